"""`python -m rnn_nlu.bench` / `rnn-nlu-bench`: convert data, benchmark NLU and dialogue configs,
load a running bot, time a bot's cold start.

See docs/benchmarks.md.
"""

import argparse
import logging
import os
import shlex
import sys
import warnings
from pathlib import Path
from typing import List, Optional


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnn-nlu-bench",
        description="Benchmark Rasa NLU pipelines and dialogue policies on the same data.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    convert = commands.add_parser(
        "convert",
        help="joint intent/slot data (seq.in, seq.out, label) or a CLINC150 .json -> Rasa NLU YAML",
    )
    convert.add_argument(
        "directory",
        type=Path,
        help="a split directory, one holding splits, or a CLINC150 .json file (train.yml: the "
        "in-scope train rows; val.yml: val + oos_val; test.yml: test + oos_test)",
    )
    convert.add_argument("out", type=Path, help="directory for <split>.yml")
    convert.add_argument(
        "--multi-intent-symbol",
        default="+",
        help="joins several intents ('a#b' becomes 'a+b' by default, Rasa's multi-intent style)",
    )

    longtail = commands.add_parser(
        "longtail",
        help="a long-tailed subset of Rasa NLU YAML: a few intents keep many examples, most few",
    )
    longtail.add_argument("source", type=Path, help="Rasa NLU YAML, e.g. a converted train.yml")
    longtail.add_argument("out", type=Path, help="the subset's YAML file")
    longtail.add_argument("--most", type=int, default=50, help="examples the first intent keeps")
    longtail.add_argument("--fewest", type=int, default=5, help="examples the last intent keeps")
    longtail.add_argument("--seed", type=int, default=0, help="seed of the order and the draw")

    dialogues = commands.add_parser(
        "dialogues",
        help="write generated dialogue tasks (city_change, city_reinform, restaurant) for `core`",
    )
    dialogues.add_argument("out", type=Path, help="directory; one folder per task")
    dialogues.add_argument("--train", type=int, default=400, help="training dialogues per task")
    dialogues.add_argument("--test", type=int, default=130, help="unseen-distance test dialogues")
    dialogues.add_argument("--seed", type=int, default=0, help="seed of the generator")

    explain = commands.add_parser(
        "explain",
        help="MemoryNetworkPolicy's attention over past turns per action: PNG heatmaps, a table",
    )
    explain.add_argument("--model", type=Path, required=True, help="a trained model.tar.gz")
    explain.add_argument("--stories", type=Path, required=True, help="stories to replay")
    explain.add_argument("--out", type=Path, required=True, help="directory for explain.md, PNGs")

    from rnn_nlu.bench.runtimes import RUNTIMES  # numpy only at its top

    runtimes = commands.add_parser(
        "runtimes",
        help="our default networks on one message in NumPy, TFLite, XLA and TensorFlow, timed",
    )
    runtimes.add_argument(
        "--tokens", type=int, action="append", help="message length (repeat; default 9)"
    )
    runtimes.add_argument(
        "--runtime",
        action="append",
        choices=RUNTIMES,
        help="runtime to time (repeat; default all; NumPy is always the reference)",
    )
    runtimes.add_argument("--vocab", type=int, default=12000, help="vocabulary size")
    runtimes.add_argument("--calls", type=int, default=1000, help="timed calls per runtime")
    runtimes.add_argument("--out", type=Path, default=Path("bench-results/runtimes"))

    for name, text in (
        ("nlu", "train NLU configs, parse a test set"),
        ("core", "train dialogue configs, run Rasa's story evaluation"),
    ):
        sub = commands.add_parser(name, help=text)
        if name == "nlu":
            sub.add_argument("--train", type=Path, required=True, help="Rasa NLU YAML to train on")
            sub.add_argument("--test", type=Path, required=True, help="Rasa NLU YAML to test on")
            sub.add_argument(
                "--val",
                type=Path,
                default=None,
                help="Rasa NLU YAML that chooses the out-of-scope confidence threshold; needed "
                "when the test set holds out-of-scope messages",
            )
            sub.add_argument(
                "--out-of-scope-intent",
                default="oos",
                help="gold intent of out-of-scope messages (default oos, as in CLINC150)",
            )
        else:
            sub.add_argument("--domain", type=Path, required=True, help="domain.yml")
            sub.add_argument(
                "--stories",
                type=Path,
                required=True,
                help="stories (and rules) to train on: a file or directory",
            )
            sub.add_argument(
                "--test-stories", type=Path, required=True, help="test stories for `rasa test core`"
            )
        sub.add_argument(
            "--config",
            type=Path,
            action="append",
            required=True,
            help="a Rasa config.yml; repeat for each config to compare",
        )
        sub.add_argument(
            "--out",
            type=Path,
            required=True,
            help="directory for results.json/.md/.png and per-run logs",
        )
        sub.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="train each config this many times, seeds seed, seed+100, ... (disjoint from "
            "the seeds an ensemble's networks add; default 1)",
        )
        sub.add_argument(
            "--seed",
            type=int,
            default=0,
            help="first seed, set on every component that has one (default 0)",
        )
        sub.add_argument(
            "--cache",
            type=Path,
            default=None,
            help="reuse results of identical earlier runs stored here, store new ones",
        )
        sub.add_argument(
            "--reference",
            default=None,
            help="config name the relative table compares with (default: the first)",
        )
        sub.add_argument(
            "--keep-models",
            action="store_true",
            help="keep each trained model.tar.gz in its run directory",
        )
    load = commands.add_parser("load", help="concurrent clients against a Rasa server on 127.0.0.1")
    target = load.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--url", help="a running `rasa run --enable-api`, e.g. http://127.0.0.1:5005"
    )
    target.add_argument(
        "--model",
        type=Path,
        action="append",
        help="a model.tar.gz: start `rasa run --enable-api` for it (and the action server, "
        "unless one answers on its port), then stop them; repeat to compare several bots one "
        "after the other in one run, the reference last",
    )
    load.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    load.add_argument(
        "--seconds",
        type=float,
        default=60,
        help="how long each phase lasts: /model/parse, then the webhook (default 60)",
    )
    load.add_argument(
        "--max-requests",
        type=int,
        default=100_000,
        help="each phase stops after this many requests (default 100000)",
    )
    load.add_argument(
        "--pid", type=int, help="the server's process id, for its memory (with --url)"
    )
    load.add_argument(
        "--out", type=Path, default=Path("bench-results/load"), help="default bench-results/load"
    )
    parse = commands.add_parser(
        "parse",
        help="trained models' parse times side by side in one process, in turns of a few messages",
    )
    parse.add_argument(
        "--model",
        type=Path,
        action="append",
        required=True,
        help="a trained model.tar.gz; repeat (the first is the floor the others are divided by)",
    )
    parse.add_argument("--test", type=Path, required=True, help="Rasa NLU YAML to parse")
    parse.add_argument("--rounds", type=int, default=3, help="passes over the test set (default 3)")
    parse.add_argument(
        "--block", type=int, default=50, help="messages a model parses before the next (default 50)"
    )
    parse.add_argument("--out", type=Path, default=Path("bench-results/parse"))
    startup = commands.add_parser(
        "startup",
        help="cold start of a bot in fresh processes: imports, Agent.load, first and later replies",
    )
    startup.add_argument(
        "--model",
        type=Path,
        action="append",
        required=True,
        help="a model.tar.gz (or a folder: its newest model, as `rasa shell -m`); repeat to "
        "compare bots side by side in one run",
    )
    startup.add_argument(
        "--message",
        action="append",
        help="a user message; the first is the first reply timed, repeat for more "
        "(default: 'hello', 'book a flight')",
    )
    startup.add_argument(
        "--repeat", type=int, default=3, help="fresh processes per model (default 3)"
    )
    startup.add_argument("--out", type=Path, help="directory for results.json/.md and logs")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point of `python -m rnn_nlu.bench` and `rnn-nlu-bench`."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("rasa", "tensorflow", "absl", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category)  # from Rasa's dependencies

    if args.command == "convert":
        from rnn_nlu.bench.convert import convert

        if args.directory.suffix.lower() == ".json":
            from rnn_nlu.bench.clinc import convert_clinc

            if not args.directory.is_file():
                raise SystemExit(f"not found: {args.directory}")
            try:
                convert_clinc(args.directory, args.out)
            except ValueError as e:
                raise SystemExit(str(e)) from None
        else:
            convert(args.directory, args.out, args.multi_intent_symbol)
        return
    if args.command == "longtail":
        from rnn_nlu.bench.longtail import write_long_tail

        if not args.source.is_file():
            raise SystemExit(f"not found: {args.source}")
        try:
            kept = write_long_tail(args.source, args.out, args.most, args.fewest, args.seed)
        except ValueError as e:
            raise SystemExit(str(e)) from None
        logging.info(f"{args.out}: {kept} examples")
        return
    if args.command == "dialogues":
        from rnn_nlu.bench.dialogues import write_all

        if args.train < 1 or args.test < 2:
            raise SystemExit("--train must be at least 1 and --test at least 2")
        write_all(args.out, args.train, args.test, args.seed)
        return
    if args.command == "explain":
        from rnn_nlu.bench.explain import run as explain_stories

        for path in (args.model, args.stories):
            if not path.exists():
                raise SystemExit(f"not found: {path}")
        explain_stories(args.model, args.stories, args.out)
        return
    if args.command == "runtimes":
        from rnn_nlu.bench import runtimes

        tokens = args.tokens or [9]
        if min(tokens) < 1 or args.vocab < 3 or args.calls < 1:
            raise SystemExit("--tokens and --calls must be positive, --vocab at least 3")
        chosen = ["numpy"] + [
            r for r in runtimes.RUNTIMES[1:] if r in (args.runtime or runtimes.RUNTIMES)
        ]
        command = "rnn-nlu-bench " + shlex.join(argv)
        runtimes.run(tokens, args.vocab, args.calls, args.out, command, chosen)
        return
    if args.command == "parse":
        from rnn_nlu.bench import parse

        missing = [str(p) for p in [*args.model, args.test] if not p.is_file()]
        if missing:
            raise SystemExit(f"not found: {', '.join(missing)}")
        if args.rounds < 1 or args.block < 1:
            raise SystemExit("--rounds and --block must be positive")
        command = "rnn-nlu-bench " + shlex.join(argv)
        parse.run(args.model, args.test, args.rounds, args.out, command, args.block)
        return
    if args.command == "load":
        from rnn_nlu.bench import load

        if args.clients < 1 or args.seconds <= 0 or args.max_requests < 1:
            raise SystemExit("--clients, --seconds and --max-requests must be positive")
        missing = [str(m) for m in args.model or [] if not m.is_file()]
        if missing:
            raise SystemExit(f"model not found: {', '.join(missing)}")
        try:
            url = load.check_url(args.url) if args.url else None
        except ValueError as e:
            raise SystemExit(str(e)) from None
        command = "rnn-nlu-bench " + shlex.join(argv)
        settings = (args.clients, args.seconds, args.max_requests)
        if args.model and len(args.model) > 1:
            load.compare(args.model, *settings, args.out, command=command)
        else:
            model = args.model[0] if args.model else None
            load.run(url, model, *settings, args.pid, args.out, command=command)
        return
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    if args.command == "startup":
        from rnn_nlu.bench import startup

        missing = [str(m) for m in args.model if not m.exists()]
        if missing:
            raise SystemExit(f"model not found: {', '.join(missing)}")
        messages = args.message or list(startup.DEFAULT_MESSAGES)
        if not all(m.strip() for m in messages):
            raise SystemExit("--message must not be empty")
        command = "rnn-nlu-bench " + shlex.join(argv)
        startup.run(args.model, messages, args.repeat, args.out, command=command)
        return
    missing = [str(p) for p in args.config if not p.is_file()]
    if missing:
        raise SystemExit(f"config not found: {', '.join(missing)}")
    common = dict(
        configs=args.config,
        out=args.out,
        repeat=args.repeat,
        seed=args.seed,
        cache_dir=args.cache,
        keep_models=args.keep_models,
        reference=args.reference,
        command="rnn-nlu-bench " + shlex.join(argv),
    )
    if args.command == "nlu":
        from rnn_nlu.bench import nlu

        missing = [str(p) for p in (args.train, args.test, args.val) if p and not p.exists()]
        if missing:
            raise SystemExit(f"data not found: {', '.join(missing)}")
        try:
            nlu.check_out_of_scope(args.test, args.val, args.out_of_scope_intent)
        except ValueError as e:
            raise SystemExit(str(e)) from None
        nlu.run(args.train, args.test, args.val, args.out_of_scope_intent, **common)
    else:
        from rnn_nlu.bench import core

        core.run(args.domain, args.stories, args.test_stories, **common)


if __name__ == "__main__":
    main()
