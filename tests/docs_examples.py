#!/usr/bin/python3
"""Checks every JSON spec example of the documentation with the real parser.

Reads docs/**/*.md and README.md, finds the examples, puts each into a spec file and
runs tests/spec_check (spec_parse) on all of them at once. The examples are:

  * every fenced ```json block (a block may hold several JSON values, one after the
    other: each is an example);
  * every inline code span that is a JSON object (starts with "{") or a member whose
    value is an object or array ("data": {...}, "conditions": [...]);
  * any other code span or fenced block that carries a marker.

A marker is an HTML comment, invisible when rendered, on the line before a fenced block
or right before an inline code span:

  <!-- check: KIND -->                  parses (a fragment of kind KIND, see KINDS)
  <!-- check: KIND error "TEXT" -->     fails, with a message containing TEXT
  <!-- check: error "TEXT" -->          a whole spec that fails with TEXT
  <!-- check: canonical -->             the canonical form of the last whole spec of
                                        the page (line breaks are dropped)
  <!-- check: skip REASON -->           not checked (schematic, placeholders)

A fenced json block without a marker is a whole spec. An inline JSON span without a
marker is a failure: say what it is, or why it is skipped. A marker that is followed by
no code is a failure too. Messages start with the file name; it is written demo.json,
as in docs/spec.md.

Usage: docs_examples.py --spec-check BUILD/tests/spec_check [--root REPO] [--list]
Exit code 0 when every example behaves as documented, 1 otherwise.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

# The spec every fragment is put into: synthetic images of 1x28x28 with 10 classes (the
# shape of Fashion-MNIST, so op lists and presets written for it check their shapes).
BASE = {
    "name": "docs-example",
    "data": {"source": "synthetic", "n_train": 64, "n_test": 16, "features": 784,
             "classes": 10, "image_shape": [1, 28, 28]},
    "architectures": [{"name": "base", "hidden": [8]}],
    "grid": {"seed": [0]},
    "train": {"epochs": 10},
}

# Where a fragment goes. "merge": its members replace those of the base object with the
# same key; "put": it is the value at that place.
KINDS = {
    "spec": "the whole spec, as written",
    "top": "merge: members of the top-level object",
    "data": "put: the data object",
    "arch": "put: the only entry of architectures (\"name\" added when missing)",
    "init": "put: architectures[0].init",
    "train": "merge: members of the train object",
    "schedule": "put: train.schedule",
    "stop": "put: train.stop",
    "augment": "put: train.augment",
    "adversarial": "put: train.adversarial",
    "rank_projection": "put: train.rank_projection",
    "grid": "merge: members of the grid object",
    "norm_bias": "put: grid.norm_bias",
    "condition": "put: the only entry of grid.conditions",
    "measure": "put: the measure object",
    "canonical": "the canonical form of the page's last whole spec",
}
TRAIN_PUT = ("schedule", "stop", "augment", "adversarial", "rank_projection")

MARKER = re.compile(r"<!--\s*check:(.*?)-->", re.S)
FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
MEMBER = re.compile(r'^"[^"]*"\s*:\s*[\[{]')


class Raw:
    """JSON text put into a composed spec as written (not re-serialised)."""

    def __init__(self, text):
        self.text = text


def dump(v):
    if isinstance(v, Raw):
        return v.text
    if isinstance(v, dict):
        return "{" + ", ".join(json.dumps(k) + ": " + dump(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(dump(x) for x in v) + "]"
    return json.dumps(v)


def as_object(text):
    """A fragment as object text: a member "k": v becomes {"k": v}."""
    t = text.strip()
    return t if t.startswith("{") or t.startswith("[") else "{" + t + "}"


def keys_of(text):
    """The member names of object text, in order (ValueError if it is not JSON)."""
    pairs = json.loads(text, object_pairs_hook=lambda p: p)
    if not isinstance(pairs, list):
        raise ValueError("not a JSON object")
    return [k for k, _ in pairs]


def merge(base, text):
    """Object text: the members of `text`, then those of base it does not give."""
    keys = keys_of(text)
    inner = text.strip()[1:-1].strip()
    rest = [json.dumps(k) + ": " + dump(v) for k, v in base.items() if k not in keys]
    return Raw("{" + ", ".join(([inner] if inner else []) + rest) + "}")


def compose(kind, fragment):
    """The spec text for a fragment of the given kind."""
    if kind in ("spec", "canonical"):
        return fragment
    text = as_object(fragment)
    json.loads(text)  # a fragment must be JSON (ValueError otherwise): mark others skip
    spec = json.loads(json.dumps(BASE))
    if kind == "top":
        return merge(spec, text).text
    if kind == "arch":
        put = Raw(text) if "name" in keys_of(text) else merge({"name": "example"}, text)
        spec["architectures"] = [put]
    elif kind == "init":
        spec["architectures"][0]["init"] = Raw(text)
    elif kind == "train":
        spec["train"] = merge(spec["train"], text)
    elif kind in TRAIN_PUT:
        spec["train"][kind] = Raw(text)
    elif kind == "grid":
        spec["grid"] = merge(spec["grid"], text)
    elif kind == "norm_bias":
        spec["grid"]["norm_bias"] = Raw(text)
    elif kind == "condition":
        spec["grid"]["conditions"] = [Raw(text)]
    else:  # data, measure
        spec[kind] = Raw(text)
    return dump(spec)


def parse_marker(body):
    """(kind, expected error or None, skip reason or None) of a marker's text."""
    body = " ".join(body.split())
    if body.startswith("skip"):
        reason = body[4:].strip()
        if not reason:
            raise ValueError("skip needs a reason")
        return None, None, reason
    m = re.fullmatch(r'(?:(\w+)\s+)?error\s+"(.*)"', body)
    if m:
        return m.group(1) or "spec", m.group(2), None
    if re.fullmatch(r"\w+", body):
        return body, None, None
    raise ValueError('expected KIND, [KIND] error "TEXT" or skip REASON')


def split_values(text):
    """The JSON values of a fenced block, as their texts (the whole block if it is not
    a sequence of JSON values, so that malformed examples reach the parser)."""
    dec, out, i = json.JSONDecoder(), [], 0
    try:
        while True:
            while i < len(text) and text[i].isspace():
                i += 1
            if i == len(text):
                return out or [text]
            _, end = dec.raw_decode(text, i)
            out.append(text[i:end])
            i = end
    except ValueError:
        return [text]


class Example:
    def __init__(self, path, line, text, marker):
        self.path, self.line, self.text = path, line, text
        self.kind, self.error, self.skip, self.problem = "spec", None, None, None
        if marker is not None:
            try:
                self.kind, self.error, self.skip = parse_marker(marker)
            except ValueError as e:
                self.problem = "bad marker <!-- check:%s-->: %s" % (marker, e)
            if self.kind is not None and self.kind not in KINDS:
                self.problem = "unknown kind %r (known: %s)" % (self.kind, ", ".join(KINDS))

    def where(self):
        return "%s:%d" % (self.path, self.line)


def scan(path, rel):
    """The examples of one markdown file, and the problems found while scanning."""
    lines = open(path, encoding="utf-8").read().split("\n")
    examples, problems = [], []
    prose = []  # the file outside fenced blocks (blanked inside them), for inline spans
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            prose.append(lines[i])
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2), i
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        body = "\n".join(lines[start + 1:j])
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mk = MARKER.fullmatch(lines[k].strip()) if k >= 0 else None
        if mk:
            prose[k] = MARKER.sub("", prose[k])  # used here, not by an inline span
        if lang == "json" or mk:
            marker = mk.group(1) if mk else None
            parts = [body] if mk and mk.group(1).strip().startswith("skip") else split_values(body)
            for part in parts:
                line = start + 2 + body[:body.find(part)].count("\n") if part in body else start + 2
                examples.append(Example(rel, line, part, marker))
        prose.extend([""] * (j + 1 - start))
        i = j + 1
    text = "\n".join(prose)
    for par_start, par in paragraphs(text):
        used = set()
        spans = list(SPAN.finditer(par))
        masked = list(par)  # markers are looked for outside code spans only
        for m in spans:
            masked[m.start():m.end()] = " " * (m.end() - m.start())
        masked = "".join(masked)
        for m in spans:
            span = m.group(2).strip()
            before = masked[:m.start()].rstrip()
            mk = None
            for mm in MARKER.finditer(before):
                if mm.end() == len(before):
                    mk = mm
            line = par_start + par[:m.start()].count("\n") + 1
            if mk:
                used.add(mk.start())
                examples.append(Example(rel, line, span, mk.group(1)))
            elif span.startswith("{") or MEMBER.match(span):
                ex = Example(rel, line, span, None)
                ex.problem = ("an inline JSON example without a marker: put "
                              "<!-- check: KIND --> or <!-- check: skip REASON --> before it")
                examples.append(ex)
        for mm in MARKER.finditer(masked):
            if mm.start() not in used:
                line = par_start + par[:mm.start()].count("\n") + 1
                problems.append("%s:%d: marker <!-- check:%s--> is followed by no code"
                                % (rel, line, mm.group(1)))
    examples.sort(key=lambda e: e.line)
    return examples, problems


def paragraphs(text):
    """(first line index, text) of each run of non-blank lines: code spans end there."""
    out, cur, first = [], [], 0
    for n, ln in enumerate(text.split("\n") + [""]):
        if ln.strip():
            if not cur:
                first = n
            cur.append(ln)
        elif cur:
            out.append((first, "\n".join(cur)))
            cur = []
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec-check", required=True, help="the spec_check program")
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), ".."),
                    help="the repository (default: this script's parent folder)")
    ap.add_argument("--list", action="store_true", help="print every example's verdict")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    files = sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True))
    files.append(os.path.join(root, "README.md"))

    examples, failures = [], []
    for f in files:
        ex, problems = scan(f, os.path.relpath(f, root))
        examples += ex
        failures += problems

    with tempfile.TemporaryDirectory(prefix="docs_examples.") as tmp:
        runs = []  # (example, file name)
        last_spec = {}
        for n, ex in enumerate(examples):
            if ex.problem or ex.skip is not None:
                continue
            try:
                text = compose(ex.kind, ex.text)
            except ValueError as e:
                ex.problem = ("not JSON (%s): a fragment must be; mark a schematic "
                              "<!-- check: skip REASON -->" % e)
                continue
            if ex.kind == "canonical":
                ex.expect_canonical = "".join(ex.text.split("\n"))
                ex.of = last_spec.get(ex.path)
                if ex.of is None:
                    ex.problem = "canonical: no whole spec before it on the page"
                    continue
            elif ex.kind == "spec" and ex.error is None:
                last_spec[ex.path] = ex
            name = os.path.join("%04d" % n, "demo.json")
            os.makedirs(os.path.join(tmp, "%04d" % n))
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as out:
                out.write(text)
            runs.append((ex, name))
        if runs:
            p = subprocess.run([os.path.abspath(args.spec_check), "--canonical"] +
                               [name for _, name in runs], cwd=tmp, capture_output=True,
                               text=True)
            got = p.stdout.split("\n")
            if p.returncode not in (0, 1) or len(got) < len(runs):
                sys.exit("docs_examples: spec_check failed (exit %d): %s"
                         % (p.returncode, p.stderr.strip()))
            for (ex, name), line in zip(runs, got):
                ex.ok = line.startswith("ok ")
                ex.canonical = line[3:] if ex.ok else None
                ex.message = None if ex.ok else line[len("error: "):].replace(name, "demo.json", 1)

    counts = {"whole specs": 0, "fragments": 0, "errors": 0, "canonical": 0, "skipped": 0}
    for ex in examples:
        verdict = None
        if ex.problem:
            verdict = ex.problem
        elif ex.skip is not None:
            counts["skipped"] += 1
        elif ex.error is not None:
            counts["errors"] += 1
            if ex.ok:
                verdict = 'expected an error containing "%s", but it parsed' % ex.error
            elif ex.error not in ex.message:
                verdict = 'expected an error containing "%s", got: %s' % (ex.error, ex.message)
        elif not ex.ok:
            verdict = "the parser refuses it: " + ex.message
        elif ex.kind == "canonical":
            counts["canonical"] += 1
            if ex.of.canonical != ex.expect_canonical:
                verdict = ("not the canonical form of the spec at line %d, which is:\n    %s"
                           % (ex.of.line, ex.of.canonical))
        else:
            counts["whole specs" if ex.kind == "spec" else "fragments"] += 1
        if verdict:
            failures.append("%s: %s example: %s\n    %s" % (ex.where(), ex.kind or "skip", verdict,
                                                          ex.text.replace("\n", "\n    ")))
        elif args.list:
            what = "skip (%s)" % ex.skip if ex.skip is not None else ex.kind
            if ex.error is not None:
                what += ' error "%s"' % ex.error
            print("ok   %s: %s" % (ex.where(), what))
    for f in failures:
        print("FAIL " + f)
    print("docs_examples: %d examples in %d files: %s; %d failed"
          % (len(examples), len(files), ", ".join("%d %s" % (v, k) for k, v in counts.items()),
             len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
