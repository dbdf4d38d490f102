"""Compiled and lazily built prediction functions."""

from rnn_nlu.models.inference import Lazy


def test_lazy_builds_at_its_first_call_only():
    builds = []

    def build():
        builds.append(1)
        return lambda x, scale=1: x * scale

    function = Lazy(build)
    assert not builds and function.built is None
    assert function(2) == 2 and function(3, scale=2) == 6
    assert len(builds) == 1 and function.built is not None
