from whyrec.store.movielens import load_movielens_100k


def test_packaged_movielens_100k_is_complete():
    dataset = load_movielens_100k()
    assert (len(dataset.items), len(dataset.interactions), len(dataset.users)) == (1682, 100_000, 943)
    toy_story = dataset.items[0]
    assert toy_story.title == "Toy Story" and toy_story.year == 1995
    assert toy_story.categories == ("Animation", "Children's", "Comedy")
    assert all(1 <= x.rating <= 5 for x in dataset.interactions)
