"""The benchmark tool: `python -m rnn_nlu.bench` / `rnn-nlu-bench` (see docs/benchmarks.md)."""
