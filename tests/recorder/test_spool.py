"""The on-disk spool: order, bounds, persistence."""

from zeropower.recorder.spool import Batch, Spool


def batch(name: str, points: int = 1) -> Batch:
    return Batch(name.encode(), points, 1.0)


def test_batches_come_back_oldest_first_and_survive_reopening(tmp_path):
    spool = Spool(tmp_path, max_points=100, max_bytes=1000)
    spool.push(batch("a", 2))
    spool.push(batch("b", 3))
    spool.close()
    spool = Spool(tmp_path, max_points=100, max_bytes=1000)
    assert (spool.points, spool.bytes) == (5, 2)
    first = spool.peek()
    assert first.batch == batch("a", 2)
    spool.remove(first.id)
    assert spool.peek().batch == batch("b", 3)
    assert spool.points == 3
    spool.close()


def test_full_spool_drops_the_oldest_and_counts_them(tmp_path):
    spool = Spool(tmp_path, max_points=5, max_bytes=1000)
    assert spool.push(batch("a", 2)) == 0
    assert spool.push(batch("b", 2)) == 0
    assert spool.push(batch("c", 2)) == 2
    assert spool.peek().batch == batch("b", 2)
    assert spool.push(batch("huge", 6)) == 6
    assert spool.points == 4
    spool.close()
