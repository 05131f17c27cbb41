"""The session store: a client id made once, the filters subscribed, bounded arrival records; all survive a restart."""

from array import array

from zeropower.recorder.session import TYPECODE, SessionStore


def values(*numbers: int) -> array:
    return array(TYPECODE, numbers)


def test_the_client_id_is_made_once_and_kept(tmp_path):
    store = SessionStore(tmp_path, keep=10)
    client_id, resumable = store.client_id(None)
    assert client_id.startswith("zeropower-recorder-")
    assert not resumable  # a new id: the broker has no session for it yet
    store.close()
    store = SessionStore(tmp_path, keep=10)
    assert store.client_id(None) == (client_id, True)
    assert store.client_id("mine") == ("mine", False)  # a configured id wins
    assert store.client_id("mine") == ("mine", True)
    store.close()
    assert SessionStore(tmp_path / "other", keep=10).client_id(None)[0] != client_id  # one per instance


def test_filters_are_remembered(tmp_path):
    store = SessionStore(tmp_path, keep=10)
    assert store.filters() == []
    store.save_filters(["b/#", "a/+", "b/#"])
    store.close()
    assert SessionStore(tmp_path, keep=10).filters() == ["a/+", "b/#"]


def test_arrival_records_survive_a_restart_and_the_oldest_beyond_keep_are_forgotten(tmp_path):
    store = SessionStore(tmp_path, keep=4)
    store.record(values(1, 2, 3), values(10, 20, 30))
    store.record(values(), values())
    store.record(values(4, 5), values(40, 50))
    assert store.arrivals() == {1: 10, 2: 20, 3: 30, 4: 40, 5: 50}  # the first batch is still needed for 4
    store.record(values(6, 7), values(60, 70))
    assert store.arrivals() == {4: 40, 5: 50, 6: 60, 7: 70}
    store.close()
    assert SessionStore(tmp_path, keep=4).arrivals() == {4: 40, 5: 50, 6: 60, 7: 70}
