"""The ledger: QoS 1 messages acknowledged once safe, in order, on their own connection; first arrivals recalled."""

import pytest

from zeropower.recorder.ledger import NO_KEY, Ledger
from zeropower.recorder.session import SessionStore


def key(packet_id: int, checksum: int = 7) -> int:
    return checksum << 16 | packet_id


@pytest.fixture
def store(tmp_path):
    session = SessionStore(tmp_path, keep=100)
    yield session
    session.close()


def test_acknowledges_qos1_messages_only_once_safe_and_in_order(store):
    acked: list[int] = []
    ledger = Ledger(store, acked.append)
    for packet_id in (1, 2, 3):
        ledger.add(key(packet_id), packet_id * 1000)
    ledger.add(NO_KEY, 4000)  # QoS 0: nothing to acknowledge
    ledger.add(key(5), 5000)
    ledger.sealed(5)
    assert acked == []  # in batches, not yet in InfluxDB or the spool
    ledger.safe(2)
    assert acked == [1, 2]
    ledger.safe(5)
    assert acked == [1, 2, 3, 5]


def test_messages_of_an_earlier_connection_are_not_acknowledged_on_a_new_one(store):
    acked: list[int] = []
    ledger = Ledger(store, acked.append)
    ledger.add(key(1), 1000)
    ledger.add(key(2), 2000)
    ledger.connected()  # the broker sends 1 and 2 again on the new connection
    ledger.add(key(1), 1000, redelivered=True)
    ledger.add(key(3), 3000)
    ledger.sealed(4)
    ledger.safe(4)
    assert acked == [1, 3]  # the copy of 1 (and 2 once it comes again), never the packet ids of before


def test_a_redelivered_message_gets_the_arrival_it_had_when_it_may_have_been_written(tmp_path):
    store = SessionStore(tmp_path, keep=100)
    ledger = Ledger(store, lambda _: None)
    ledger.add(key(1), 1000)
    ledger.add(key(2), 2000)
    ledger.add(NO_KEY, 2500)
    ledger.sealed(3)  # 1 and 2 are about to be written: their arrivals are logged
    ledger.add(key(3), 3000)  # not yet in a batch, but its lines are in the pipeline
    ledger.connected()
    assert ledger.original_arrival(key(2)) == 2000
    assert ledger.original_arrival(key(3)) == 3000
    assert ledger.original_arrival(key(2, checksum=8)) is None  # the same packet id with other content
    store.close()

    store = SessionStore(tmp_path, keep=100)  # after a crash: only what was logged
    ledger = Ledger(store, lambda _: None)
    assert ledger.original_arrival(key(1)) == 1000
    assert ledger.original_arrival(key(3)) is None  # never written: a new arrival is as good
    store.close()
