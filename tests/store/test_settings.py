import pytest
from whyrec.store.errors import SetupError
from whyrec.store.settings import Settings


def test_the_collaborative_model_is_auto_unless_set(monkeypatch):
    monkeypatch.delenv("WHYREC_COLLABORATIVE", raising=False)
    assert Settings().collaborative == "auto"
    monkeypatch.setenv("WHYREC_COLLABORATIVE", "als")
    assert Settings().collaborative == "als"
    assert Settings(collaborative="item_knn").collaborative == "item_knn"


@pytest.mark.parametrize("source", ["env", "keyword"])
def test_an_unknown_collaborative_model_is_one_line_saying_what_to_use(monkeypatch, source):
    if source == "env":
        monkeypatch.setenv("WHYREC_COLLABORATIVE", "knn")
    with pytest.raises(SetupError) as caught:
        Settings(collaborative="knn") if source == "keyword" else Settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message == "collaborative='knn' (WHYREC_COLLABORATIVE) is not a model whyrec has — use one of auto, ease, item_knn, als"
