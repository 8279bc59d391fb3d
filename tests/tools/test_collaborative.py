from whyrec.store.records import Interaction
from whyrec.tools.collaborative import CollaborativeModel


def test_people_who_liked_a_also_liked_b():
    log = []
    for n in range(20):  # twenty people watched A then B; ten watched C then D
        log += [Interaction(f"p{n}", "A", 1.0), Interaction(f"p{n}", "B", 2.0)]
    for n in range(10):
        log += [Interaction(f"q{n}", "C", 1.0), Interaction(f"q{n}", "D", 2.0)]
    model = CollaborativeModel.fit(log, ["A", "B", "C", "D"])
    history = [Interaction("me", "A", 5.0)]
    top = model.top(history, n=2, exclude={"A"})
    assert top[0] == ("B", 1.0)
    assert model.contributions(history, "B") == [("A", 1.0)]
    assert model.scores(history)["D"] <= 0.0 + 1e-9


def test_no_interactions_means_no_model():
    assert CollaborativeModel.fit([], ["A"]) is None
