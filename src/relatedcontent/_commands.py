"""The CLI's commands: each parses nothing, calls the library and formats what it returns.

:mod:`relatedcontent.cli` declares the commands and their options; the
handlers here take the parsed arguments and the output streams and return the
exit code (0 ok, 1 data error, 2 usage error).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from ._distributed import fit_distributed, open_client
from ._evaluate import evaluate, site_summary
from ._recommender import RelatedContent, load, verify
from .ingest.articles import Article, FieldMap
from .ingest.files import read_articles, read_records, sample_articles
from .ingest.sql import read_sql
from .outputs.files import export_files
from .outputs.items import Recommendation
from .outputs.sql import export_sql
from .scoring.options import OPTION_NAMES

__all__ = [
    "cmd_build",
    "cmd_change",
    "cmd_compact",
    "cmd_demo",
    "cmd_evaluate",
    "cmd_explain",
    "cmd_export",
    "cmd_refit",
    "cmd_related",
    "cmd_remove",
    "cmd_similar",
    "cmd_status",
]


def _field_map(args: argparse.Namespace, base: FieldMap | None = None) -> FieldMap:
    """The field mapping of the command: ``base`` (the index's, or the default), with the
    fields its options name changed."""
    names: dict[str, Any] = {}
    for option in ("id", "title", "url", "section", "published", "language", "image"):
        value = getattr(args, f"{option}_field", None)
        if value is not None:
            names[option] = value
    if args.text_fields is not None:
        names["body"] = tuple(f for f in args.text_fields.split(",") if f)
    if args.tags_fields is not None:
        tags = [f for f in args.tags_fields.split(",") if f]
        names["tags"], names["categories"] = tuple(tags[:1]), tuple(tags[1:])
    return dataclasses.replace(base or FieldMap(), **names)


class _Progress:
    def __init__(self, quiet: bool, stream: TextIO) -> None:
        self.quiet = quiet
        self.stream = stream
        self.start = time.monotonic()

    def say(self, message: str) -> None:
        if not self.quiet:
            self.stream.write(f"[{time.monotonic() - self.start:6.1f}s] {message}\n")
            self.stream.flush()


def _wordpress_options(args: argparse.Namespace) -> dict[str, Any]:
    """The WordPress options of read_articles; {} when they are the defaults."""
    types = [t for t in args.post_types.split(",") if t]
    statuses = [s for s in args.post_statuses.split(",") if s]
    if (types, statuses, args.include_protected) == (["post"], ["publish"], False):
        return {}
    return {
        "post_types": types,
        "post_statuses": statuses,
        "include_protected": args.include_protected,
    }


def _chain_files(args: argparse.Namespace, base: FieldMap | None = None) -> Iterator[Article]:
    field_map = _field_map(args, base)
    wordpress = _wordpress_options(args)
    return itertools.chain.from_iterable(
        read_articles(path, field_map, format=args.format, **wordpress) for path in args.corpus
    )


def cmd_build(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    progress = _Progress(args.quiet, err)
    if bool(args.corpus) == bool(args.from_sql) or bool(args.from_sql) != bool(args.query):
        err.write(
            "relatedcontent build: error: give CORPUS file(s), or --from-sql URL with --query SQL\n"
        )
        return 2
    params = dict(args.param)
    own = {
        "n_neighbors",
        "language",
        "title_weight",
        "tags_weight",
        "min_df",
        "max_df",
        "empty_text",
        "memory_budget",
        "n_jobs",
        "verbose",
        "field_map",
    }
    if set(params) & own:
        err.write(
            "relatedcontent build: error: use the build options for "
            f"{', '.join(sorted(set(params) & own))}, not --param\n"
        )
        return 2
    try:
        RelatedContent(**params)
    except TypeError as exc:
        err.write(f"relatedcontent build: error: unknown parameter in --param ({exc})\n")
        return 2
    if args.scheduler or args.local_cluster:
        return _build_on_cluster(args, progress, err)
    if args.from_sql:
        progress.say("reading the query's rows")
        articles = list(read_sql(args.from_sql, args.query, _field_map(args)))
    else:
        progress.say(f"reading {', '.join(args.corpus)}")
        articles = list(_chain_files(args))
    progress.say(f"read {len(articles)} articles; fitting")
    model = RelatedContent(**_model_params(args)).fit(articles)
    report = model.report_
    progress.say(
        f"indexed {report['n_articles']} articles, {report['n_terms']} terms"
        + (
            f", {report['n_without_vector']} without any indexed term"
            if report["n_without_vector"]
            else ""
        )
    )
    model.save(args.output)
    progress.say(f"saved index to {args.output}")
    return 0


def _model_params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "n_neighbors": args.n_neighbors,
        "language": args.language,
        "title_weight": args.title_weight,
        "tags_weight": args.tags_weight,
        "min_df": args.min_df,
        "max_df": args.max_df,
        "empty_text": args.empty_text,
        "memory_budget": args.memory_budget,
        "n_jobs": args.n_jobs,
        "verbose": not args.quiet,
        # kept in the index, so that add and update read files the same way
        "field_map": _field_map(args),
        **dict(getattr(args, "param", [])),
    }


def _build_on_cluster(args: argparse.Namespace, progress: _Progress, err: TextIO) -> int:
    if args.scheduler and args.local_cluster or args.from_sql:
        err.write(
            "relatedcontent build: error: give CORPUS file(s) and one of --scheduler or "
            "--local-cluster\n"
        )
        return 2
    if _wordpress_options(args):
        err.write(
            "relatedcontent build: error: a cluster build reads published WordPress posts "
            "only; --post-types, --post-statuses and --include-protected are for local builds\n"
        )
        return 2
    where = args.scheduler or f"a local cluster of {args.local_cluster} workers"
    progress.say(f"building {', '.join(args.corpus)} on {where}")
    with open_client(scheduler=args.scheduler, local_cluster=args.local_cluster) as client:
        model = fit_distributed(client, args.corpus, format=args.format, **_model_params(args))
    progress.say(
        f"indexed {model.report_['n_articles']} articles, {model.report_['n_terms']} terms"
    )
    model.save(args.output)
    progress.say(f"saved index to {args.output}")
    return 0


def _print_list(items: Sequence[Recommendation], out: TextIO) -> None:
    if not items:
        out.write("  (no related articles)\n")
    for rank, item in enumerate(items, start=1):
        reason = "" if item.reason == "similar text" else f" ({item.reason})"
        out.write(f"  {rank}. {item.title}  [{item.score:.3f}]{reason}\n")
        if item.teaser:
            out.write(f"     {item.teaser}\n")
        if item.url:
            out.write(f"     Read more: {item.url}\n")


def cmd_related(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.all == (args.id is not None):
        err.write("relatedcontent related: error: give an article ID or --all (not both)\n")
        return 2
    model = load(args.index)
    options = dict(args.option)
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        err.write(
            f"relatedcontent related: error: unknown option(s) {', '.join(unknown)}; "
            f"the options are {', '.join(OPTION_NAMES)}\n"
        )
        return 2
    if args.all:
        n = args.n or 10
        for article_id, items in model.related_all(n, **options):
            line = {"id": article_id, "related": [item.to_dict() for item in items]}
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        return 0
    article_id = model.resolve_id(args.id)
    items = model.related(article_id, n=args.n or 5, **options)
    if args.json:
        out.write(
            json.dumps(
                {"id": article_id, "related": [i.to_dict() for i in items]}, ensure_ascii=False
            )
            + "\n"
        )
    else:
        article = model.article(article_id)
        out.write(f"{article.title or article_id}\nYou might also like:\n")
        _print_list(items, out)
    return 0


def cmd_similar(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    text = args.text if args.text is not None else sys.stdin.read()
    if not (text.strip() or args.title.strip()):
        err.write(
            "relatedcontent similar: error: the draft is empty; pass --text or pipe text on stdin\n"
        )
        return 2
    model = load(args.index)
    items = model.similar({"title": args.title, "body": text}, n=args.n)
    if args.json:
        out.write(json.dumps({"related": [i.to_dict() for i in items]}, ensure_ascii=False) + "\n")
    else:
        out.write("You might also like:\n")
        _print_list(items, out)
    return 0


def cmd_change(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    model = load(args.index)
    advice = model.refit_advice()
    records = list(_records(args, model._field_map()))
    if args.change == "add":
        report = model.apply_changes(add=records, upsert=args.upsert)
    else:
        report = model.apply_changes(update=records, merge=not args.replace)
    model.save(args.index)
    done = f"{len(report.added)} added, {len(report.updated)} updated"
    err.write(f"{args.change}: {done}; the index holds {len(model)}\n")
    _advise(model, advice, err)
    return 0


def _records(args: argparse.Namespace, base: FieldMap) -> Iterator[Any]:
    """The raw records of the command's files, read with the index's field mapping.

    Raw records (not Articles) so that ``update`` knows which fields each names.
    """
    field_map = _field_map(args, base)
    for path in args.corpus:
        yield from read_records(path, field_map, format=args.format, **_wordpress_options(args))


def cmd_remove(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    model = load(args.index)
    advice = model.refit_advice()
    report = model.apply_changes(remove=args.ids, missing_ok=args.missing_ok)
    model.save(args.index)
    err.write(f"removed {len(report.removed)} article(s); the index holds {len(model)}\n")
    _advise(model, advice, err)
    return 0


def _advise(model: RelatedContent, before: str | None, err: TextIO) -> None:
    """Say once that a refit is advisable: when this change made it so (``status`` tells later)."""
    advice = model.refit_advice()
    if advice and before is None:
        err.write(f"note: a refit is advisable ({advice}); run 'relatedcontent refit INDEX'\n")


def cmd_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    model = load(args.index)
    drift = model.drift_
    status = {
        "articles": len(model),
        "terms": len(model.vectorizer_.terms_),
        "n_neighbors": int(model.neighbors_.shape[1]),
        "memory_bytes": model.memory_usage(),
        "drift": drift,
        "refit_advice": model.refit_advice(),
        **site_summary(model),
    }
    if args.json:
        out.write(json.dumps(status) + "\n")
        return 0
    unknown = drift["unknown_tokens"] / drift["new_tokens"] if drift["new_tokens"] else 0.0
    out.write(
        f"articles: {status['articles']} ({status['terms']} terms, "
        f"{status['n_neighbors']} related each)\n"
        f"memory: vectors {status['memory_bytes']['vectors'] / 2**20:.1f} MiB, "
        f"lists {status['memory_bytes']['lists'] / 2**20:.1f} MiB\n"
        f"since the fit on {drift['fitted_articles']} articles: {drift['added']} added, "
        f"{drift['updated']} updated, {drift['removed']} removed; "
        f"{100 * unknown:.1f}% of new words not in the vocabulary\n"
        f"refit: {status['refit_advice'] or 'not needed'}\n"
    )
    for name, values in (
        ("scores of listed items", status["scores"]["items"]),
        ("scores of first items", status["scores"]["first_items"]),
    ):
        if values:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in values.items())
            out.write(f"{name}: {shown}\n")
    for code, entry in sorted(status["languages"].items(), key=lambda kv: -kv[1]["articles"]):
        out.write(f"language {code}: {entry['articles']} articles; {entry['analysis']}\n")
    return 0


def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    summary = verify(args.index)
    out.write(
        f"{args.index}: intact ({summary['files']} files, {summary['bytes'] / 2**20:.1f} MiB, "
        f"{summary['articles']} articles, {summary['journal_changes']} journaled changes)\n"
    )
    return 0


def cmd_compact(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    model = load(args.index)
    model.save(args.index, compact=True)
    err.write(f"compacted {args.index}: {len(model)} articles in a new snapshot\n")
    return 0


def cmd_refit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    model = load(args.index)
    model.refit()
    model.save(args.index)
    err.write(
        f"refitted {args.index}: {len(model)} articles, {len(model.vectorizer_.terms_)} terms\n"
    )
    return 0


def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    sql_only = args.table != "related_articles" or args.details
    file_only = args.format is not None or args.per_article
    if (args.to_sql and file_only) or (args.out and sql_only):
        err.write(
            "relatedcontent export: error: --table and --details go with --to-sql; "
            "--format and --per-article with --out\n"
        )
        return 2
    if args.to_sql:
        report = export_sql(
            args.index, args.to_sql, table=args.table, n=args.n, details=args.details
        )
        message = report.summary()
    else:
        path = export_files(
            args.index, args.out, format=args.format, per_article=args.per_article, n=args.n or 5
        )
        message = f"wrote {path}"
    if not args.quiet:
        err.write(message + "\n")
    return 0


def cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    model = load(args.index)
    why = model.explain(
        model.resolve_id(args.id), model.resolve_id(args.other_id), n_terms=args.terms
    )
    if args.json:
        out.write(json.dumps(why.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.write(why.summary(args.terms) + "\n")
    return 0


_METRICS = (
    ("p@5", "P@5"),
    ("p@10", "P@10"),
    ("mrr@10", "MRR@10"),
    ("coverage@5", "coverage@5"),
    ("hubness@5", "hubness@5"),
    ("near_duplicate_rate", "near-dup rate"),
    ("fit_seconds", "fit s"),
)


def cmd_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    params = dict(args.param)
    try:
        RelatedContent(**params)
    except TypeError as exc:
        err.write(f"relatedcontent evaluate: error: unknown parameter in --param ({exc})\n")
        return 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # articles without text are counted, not reported
        result: dict[str, Any] = evaluate(
            _chain_files(args), label_field=args.label_field, params=params
        )
    result = {"corpus": [str(p) for p in args.corpus], "params": params, **result}
    if args.json:
        out.write(json.dumps(result, default=list) + "\n")
        return 0
    out.write(f"{', '.join(args.corpus)}: {result['n']} articles (exact duplicates dropped)\n")
    widths = [max(len(label), 6) for _, label in _METRICS]
    out.write(
        "  ".join(label.rjust(w) for (_, label), w in zip(_METRICS, widths, strict=False)) + "\n"
    )
    out.write(
        "  ".join(
            f"{result[key]:.{1 if key in ('hubness@5', 'fit_seconds') else 3}f}".rjust(w)
            for (key, _), w in zip(_METRICS, widths, strict=False)
        )
        + "\n"
    )
    return 0


def cmd_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    started = time.perf_counter()
    model = RelatedContent().fit(sample_articles())
    elapsed = time.perf_counter() - started
    out.write(
        f"Indexed {len(model)} articles of the sample council site "
        f"({model.report_['n_terms']} terms) in {elapsed:.2f}s.\n"
    )
    step = max(1, len(model) // args.articles)
    for article_id in model.ids_[::step][: args.articles]:
        article = model.article(article_id)
        out.write("\n" + "=" * 72 + "\n")
        out.write(f"{article.title}\n{article.url or ''}\n\nYou might also like\n")
        _print_list(model.related(article_id, n=args.n), out)
    return 0
