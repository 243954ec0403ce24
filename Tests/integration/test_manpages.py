"""The installed manual pages against the installed programs: every option that `jitexec --help`
prints has its own entry under OPTIONS in jitexec.8; every option that `jitctl help VERB` prints is
documented in jitctl.8 within that verb's entry under COMMANDS (an option documented under another
verb does not count); jitctl.8 has an entry for every verb and none for a verb jitctl does not have.
The pages lint clean, man(1) finds and renders them, and the install wrote its own paths into them.

The pages are read through mandoc's own parser (`mandoc -T tree`), not with regular expressions
over the source, so `.Fl -comment`, `.Fl \\-comment`, `.Fl f , Fl -follow`, `.Fl -ok | -flag` and
`.Op Fl nS` all read as the options they render."""
import gzip
import os
import re
import subprocess

import pytest

PAGES = ["jitexec.8", "jitctl.8", "jitexec.toml.5", "jitexec-formats.5"]

# ArgumentParser's built-ins, printed by `jitctl help VERB` for every verb: they are not the verb's
# options, and jitctl.8 documents them once for all verbs (`jitctl --help`, `jitctl command
# --help`, `jitctl --version`), not under each verb. They are checked once, anywhere in jitctl.8, as
# the options of `jitctl --help` itself. jitexec has no such exclusion: its -h/--help and
# -V/--version are its own options, each with its own entry in jitexec.8.
ARGUMENT_PARSER_BUILTINS = {"-h", "--help", "--version"}

FLAG = re.compile(r"(?<![\w-])--?[A-Za-z0-9][\w-]*")


def man_dir(inst):
    return getattr(inst, "man", f"{inst.prefix}/usr/share/man")


def page_path(inst, page):
    """The installed page: as `make install` leaves it, or gzip'd as the Debian package ships it
    (JITEXEC_IT_PACKAGE=1). mandoc and man read either."""
    path = f"{man_dir(inst)}/man{page.rsplit('.', 1)[1]}/{page}"
    return path if os.path.exists(path) or not os.path.exists(path + ".gz") else path + ".gz"


def page_text(path):
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as f:
        return f.read()


def words(text):
    """Text as one line, the way a renderer spaces it: single spaces, none before punctuation."""
    return re.sub(r"\s+([,.;:)])", r"\1", " ".join(text.split()))


def run(argv, env=None):
    base = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    base.update(env or {})
    return subprocess.run(argv, capture_output=True, text=True, env=base, cwd="/", timeout=60)


# --- the help texts ----------------------------------------------------------------------------


class Help:
    """One help text: its options (each a tuple of aliases, in order), the flags its usage lines
    name, and its subcommands (ArgumentParser's SUBCOMMANDS section)."""

    def __init__(self, argv, text):
        self.name, self.text = " ".join(argv), text
        self.options, self.usage_flags, self.subcommands = [], set(), []
        in_usage = in_subcommands = False
        for line in text.splitlines():
            # Usage: jitexec's hand-written `usage:` block (continued by indented lines) and
            # ArgumentParser's one `USAGE:` line. A bare `--` (end of options) is no option.
            if re.match(r"(?i)usage:", line):
                in_usage = True
            elif in_usage and not line.startswith(" "):
                in_usage = False
            if in_usage:
                self.usage_flags.update(FLAG.findall(re.sub(r"(?i)^usage:", "", line)))
                continue
            # An option line: 2 to 6 spaces, then the option column (`-u, --user USER`,
            # `--max-wait <max-wait>`, `    --once`), then two or more spaces and its help, or its
            # end when ArgumentParser moves a long column's help to the next line. Help that wraps
            # continues far further in, and never counts.
            m = re.match(r" {2,6}(-\S.*?)(?: {2,}|$)", line)
            if m:
                aliases = tuple(w for w in re.split(r"[\s,=]+", m.group(1)) if FLAG.fullmatch(w))
                assert aliases, f"{self.name}: cannot read the options of {line!r}"
                self.options.append(aliases)
                continue
            # jitexec: `not taken, each refused with the reason: -E (env_keep decides), -b (...)`:
            # sudo options jitexec refuses with a reason; the page must say so, so they count.
            m = re.match(r"not taken\b[^:]*:(.*)", line)
            if m:
                self.options.extend((f,) for f in FLAG.findall(m.group(1)))
                continue
            if line == "SUBCOMMANDS:":
                in_subcommands = True
            elif in_subcommands and line and not line.startswith(" "):
                in_subcommands = False
            elif in_subcommands:
                m = re.match(r"  ([a-z][a-z0-9-]*)(?: \(default\))?(?: {2,}|$)", line)
                if m:
                    self.subcommands.append(m.group(1))

    @property
    def flags(self):
        return [f for aliases in self.options for f in aliases]


def jitexec_help(inst):
    done = run([inst.jitexec, "--help"])
    assert done.returncode == 0, f"jitexec --help exited {done.returncode}: {done.stderr}"
    return Help(["jitexec", "--help"], done.stdout)


def jitctl_help(inst, path, check=True):
    """`jitctl help PATH...` (`jitctl --help` for the root): ArgumentParser's own help command, the
    same text as `jitctl VERB --help`. Not `jitctl VERB --help` itself: explain passes everything
    after its options through as the command to explain, `--help` included."""
    argv = [inst.jitctl, "help", *path] if path else [inst.jitctl, "--help"]
    done = run(argv)
    assert done.returncode == 0 or not check, f"{' '.join(argv)} exited {done.returncode}: {done.stderr}"
    return Help(["jitctl", *path] if path else ["jitctl", "--help"], done.stdout)


def usage_names(help_, path):
    """Whether the help is that command's own: ArgumentParser answers `jitctl help NOSUCH` with the
    root help, exit 0."""
    want = " ".join(["jitctl", *path])
    return any(re.match(rf"USAGE: {re.escape(want)}(?: |$)", line) for line in help_.text.splitlines())


@pytest.fixture(scope="module")
def jitctl_commands(installed):
    """{path: Help} for jitctl's root (path ()) and every command its help lists, subcommands of
    subcommands included (`store migrate`)."""
    found, todo = {}, [()]
    while todo:
        path = todo.pop(0)
        h = jitctl_help(installed, path)
        assert path == () or usage_names(h, path), \
            f"`jitctl help {' '.join(path)}` did not print its own help:\n{h.text}"
        found[path] = h
        todo.extend(path + (sub,) for sub in h.subcommands)
    return found


# --- the pages, through mandoc's parser --------------------------------------------------------


class Node:
    def __init__(self, name, kind, line, indent):
        self.name, self.kind, self.line, self.indent, self.children = name, kind, line, indent, []

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def text(self):
        return " ".join(n.name for n in self.walk() if n.kind == "text")


# A node: its name or text, its kind, maybe arguments, its position (marked with `*` when it starts
# an input line, `(` or `)` around a delimiter), then flags (NOSRC, ID=...).
TREE_TEXT = re.compile(r"( *)(.*) \(text\) [^\d\s]*(\d+):\d+\S*(?: \S+)*")
TREE_NODE = re.compile(r"( *)(\S+) \((\w+)\).*? [^\d\s]*(\d+):\d+\S*(?: \S+)*")
TREE_META = re.compile(r"[a-z]+ *= ")


def mdoc_tree(path):
    """The page's syntax tree as mandoc builds it (`mandoc -T tree`: one node a line, children
    indented further than their parent)."""
    done = run(["mandoc", "-T", "tree", path])
    assert done.returncode == 0, f"mandoc -T tree {path}: {done.stderr}"
    # mandoc's internal marks, which -T tree prints raw: a breakable hyphen, a non-breaking space,
    # a break point. (They are why this splits at newlines only: str.splitlines splits at \x1d-\x1e.)
    out = done.stdout.replace("\x1e", "-").replace("\x1f", " ").replace("\x1d", "")
    root, stack = Node("(root)", "root", 0, -1), []
    for raw in out.split("\n"):
        if not raw.strip() or TREE_META.match(raw):
            continue
        m = TREE_TEXT.fullmatch(raw)
        if m:
            indent, name, kind, line = len(m.group(1)), m.group(2), "text", int(m.group(3))
        else:
            m = TREE_NODE.fullmatch(raw)
            assert m, f"cannot read this line of `mandoc -T tree {path}`: {raw!r}"
            indent, name, kind, line = len(m.group(1)), m.group(2), m.group(3), int(m.group(4))
        node = Node(name, kind, line, indent)
        while stack and stack[-1].indent >= indent:
            stack.pop()
        (stack[-1] if stack else root).children.append(node)
        stack.append(node)
    return root


def unescape(word):
    return word.replace("\\&", "").replace("\\-", "-").replace("\\(hy", "-").replace("\\(mi", "-")


def fl_flags(node):
    """The options that the `.Fl` macros under node render: `.Fl -comment` and `.Fl \\-comment` are
    --comment, `.Fl m` is -m, and a bundle `.Fl nS` (as SYNOPSIS writes them) is -n and -S. A bare
    `.Fl -` (end of options) and `.Fl` are no option."""
    flags = set()
    for n in node.walk():
        if n.kind != "elem" or n.name != "Fl":
            continue
        for t in n.children:
            if t.kind != "text":
                continue
            word = unescape(t.name)
            if re.fullmatch(r"-[A-Za-z0-9][\w-]*|[A-Za-z0-9]", word):
                flags.add("-" + word)
            elif re.fullmatch(r"[A-Za-z0-9]{2,}", word):
                flags.update("-" + c for c in word)
    return flags


def section(tree, title, page):
    for sh in tree.children:
        if sh.kind == "block" and sh.name == "Sh":
            head = next(c for c in sh.children if c.kind == "head")
            if head.text() == title:
                return sh
    pytest.fail(f"{page} has no {title} section (.Sh {title})")


def list_items(node):
    """The items of the outermost lists under node (into .Ss blocks, not into nested lists)."""
    for c in node.children:
        if c.kind == "block" and c.name == "Bl":
            for body in (b for b in c.children if b.kind == "body"):
                yield from (it for it in body.children if it.kind == "block" and it.name == "It")
        else:
            yield from list_items(c)


def item_head(it):
    return next(c for c in it.children if c.kind == "head")


def verb_entries(tree):
    """{"store migrate": [item, ...]} for the `.It Cm VERB ...` entries of jitctl.8's COMMANDS; a
    verb with two entries (request, review) has both. The words of the leading `.Cm` are the verb."""
    entries = {}
    for it in list_items(section(tree, "COMMANDS", "jitctl.8")):
        head = item_head(it)
        first = head.children[0] if head.children else None
        if first is not None and first.kind == "elem" and first.name == "Cm":
            verb = " ".join(unescape(t.name) for t in first.children if t.kind == "text")
            entries.setdefault(verb, []).append(it)
    return entries


# --- 1. the options agree ----------------------------------------------------------------------


def test_every_jitexec_option_has_an_entry_under_options_in_jitexec_8(installed):
    h = jitexec_help(installed)
    # A check that reads nothing checks nothing: the option lines must still be understood, and
    # they must hold every option the usage names.
    assert "--help" in h.flags, f"could not read jitexec --help's options (format changed?):\n{h.text}"
    missed = h.usage_flags - set(h.flags)
    assert not missed, f"jitexec --help: the usage names {sorted(missed)}, the option lines do not (format changed?)"
    page = page_path(installed, "jitexec.8")
    entries = set()
    for it in list_items(section(mdoc_tree(page), "OPTIONS", "jitexec.8")):
        entries |= fl_flags(item_head(it))
    missing = [f"{flag} (jitexec --help: {', '.join(aliases)})"
               for aliases in h.options for flag in aliases if flag not in entries]
    assert not missing, (
        f"{page}: no entry under OPTIONS (.It Fl ...) for these options of jitexec --help; add one for each:\n  "
        + "\n  ".join(missing))


def test_every_jitctl_option_is_documented_under_its_verb_in_jitctl_8(installed, jitctl_commands):
    page = page_path(installed, "jitctl.8")
    tree = mdoc_tree(page)
    entries, everywhere = verb_entries(tree), fl_flags(tree)
    assert entries, f"read no `.It Cm VERB` entries from {page}'s COMMANDS"
    assert any(fl_flags(it) for items in entries.values() for it in items), \
        f"read no .Fl in {page}'s COMMANDS (mandoc -T tree changed?)"
    missing = []
    for path, h in jitctl_commands.items():
        name = " ".join(path)
        missed = h.usage_flags - set(h.flags)
        assert not missed, f"{h.name}: the usage names {sorted(missed)}, the option lines do not (format changed?)"
        if not path:
            # The root's options are the built-ins: documented once, anywhere in the page.
            assert ARGUMENT_PARSER_BUILTINS <= set(h.flags), f"jitctl --help: expected the built-ins, read {h.options}"
            missing += [f"{flag} (jitctl --help) anywhere in the page" for flag in h.flags if flag not in everywhere]
            continue
        own = [(aliases, f) for aliases in h.options for f in aliases if f not in ARGUMENT_PARSER_BUILTINS]
        if name not in entries:
            continue  # the entry itself is the next test's business; here only a verb's options count
        documented = set().union(*(fl_flags(it) for it in entries[name]))
        missing += [f"{flag} of `jitctl {name}` ({', '.join(aliases)} in `jitctl help {name}`), under .It Cm {name}"
                    for aliases, flag in own if flag not in documented]
    assert not missing, \
        f"{page}: these options are not documented where they belong; add them:\n  " + "\n  ".join(missing)


def test_jitctl_8_has_an_entry_for_each_verb_and_none_for_a_verb_jitctl_lacks(installed, jitctl_commands):
    page = page_path(installed, "jitctl.8")
    entries = verb_entries(mdoc_tree(page))
    problems = []
    for path, h in jitctl_commands.items():
        if not path:
            continue
        name = " ".join(path)
        own = [f for f in h.flags if f not in ARGUMENT_PARSER_BUILTINS]
        # A group (`store`) is documented through its subcommands' entries (`store migrate`);
        # it needs one of its own only when it has options of its own.
        if name not in entries and (not h.subcommands or own):
            listed = f"jitctl help {' '.join(path[:-1])}" if path[:-1] else "jitctl --help"
            problems.append(f"`jitctl {name}` (listed by `{listed}`) has no entry: add .It Cm {name}")
    for verb, items in entries.items():
        path = tuple(verb.split())
        if path in jitctl_commands:
            continue
        # Not listed in the help: a hidden command (compile-policy, notify-run) still answers
        # `jitctl help VERB` with its own usage; a verb that does not exist gets the root help.
        hidden = jitctl_help(installed, path, check=False)
        if not usage_names(hidden, path):
            problems.append(
                f".It Cm {verb} (line {items[0].line}) documents `jitctl {verb}`, which jitctl does not have")
            continue
        documented = set().union(*(fl_flags(it) for it in items))
        problems += [f"{f} of hidden `jitctl {verb}` is not documented under .It Cm {verb}"
                     for f in hidden.flags if f not in ARGUMENT_PARSER_BUILTINS and f not in documented]
    assert not problems, f"{page} COMMANDS and jitctl's verbs disagree:\n  " + "\n  ".join(problems)


# --- 2. the pages are clean and installed ------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_installed_page_lints_clean(installed, page):
    path = page_path(installed, page)
    done = run(["mandoc", "-T", "lint", "-W", "warning", path])
    out = done.stdout + done.stderr
    assert not out and done.returncode == 0, f"mandoc -T lint -W warning {path} (exit {done.returncode}):\n{out}"


@pytest.mark.parametrize("page", PAGES)
def test_man_finds_and_renders_the_installed_page(installed, page):
    name = page.rsplit(".", 1)[0]
    path = page_path(installed, page)
    found = run(["man", "-M", man_dir(installed), "-w", name])
    assert found.returncode == 0, f"man -M {man_dir(installed)} -w {name}: {found.stderr}"
    assert os.path.realpath(found.stdout.strip()) == os.path.realpath(path), \
        f"man -M {man_dir(installed)} -w {name} found {found.stdout.strip()!r}, not {path}"
    # The NAME line, as a reader sees it: a wide page so the description is on one line, and
    # overstrike and escape sequences taken out.
    shown = run(["man", "-M", man_dir(installed), name], env={"MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "200"})
    assert shown.returncode == 0, f"man -M {man_dir(installed)} {name}: {shown.stderr}"
    text = re.sub(r"\x1b\[[0-9;]*m", "", re.sub(r".\x08", "", shown.stdout))
    lines = [line.strip() for line in text.splitlines()]
    assert "NAME" in lines, f"man {name} shows no NAME section:\n{text[:800]}"
    name_line = next(line for line in lines[lines.index("NAME") + 1:] if line)
    description = " ".join(n.text() for n in mdoc_tree(path).walk() if n.kind == "body" and n.name == "Nd")
    assert description, f"{path}: no .Nd description"
    assert re.fullmatch(rf"{re.escape(name)} (?:—|-) {re.escape(words(description))}", words(name_line)), \
        f"man {name}: the NAME line reads {name_line!r}, not {name} — {description}"


def test_installed_pages_name_the_installed_programs(installed):
    """`make install` rewrites the default install's paths in the pages to this install's: each page
    says where its program is (and refuses to run from anywhere else), so it must say the truth."""
    pages = {page: page_text(page_path(installed, page)) for page in PAGES}
    assert installed.jitexec in pages["jitexec.8"], f"the installed jitexec.8 does not name {installed.jitexec}"
    assert installed.jitctl in pages["jitctl.8"], f"the installed jitctl.8 does not name {installed.jitctl}"
    defaults = {"/usr/local/bin/jitexec": installed.jitexec, "/usr/local/bin/jitctl": installed.jitctl}
    for default, own in defaults.items():
        if default == own:
            continue  # an install at the default prefix: nothing was rewritten, nothing to tell apart
        for page, text in pages.items():
            assert default not in text, f"the installed {page} still names {default}, not {own}"
