"""Walk a bash syntax tree and collect every simple command that would run, with data-flow links.

Pipelines link producers to consumers, substitutions link to the command that reads them, wrappers
are peeled (`_unwrap`), and script strings (`bash -c`, `eval`, heredocs fed to a shell, a literal
`echo ... | sh`) are parsed again, recursively, up to a depth limit.
"""

from __future__ import annotations

import itertools
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from railguard.detect._budget import InputTooLarge, checkpoint, off_the_clock
from railguard.detect._re2_search import LazyRe2
from railguard.detect.paths import resolve_path
from railguard.detect.shell._flow import (
    UNKNOWN_CWD,
    basename,
    find_roots,
    is_decoder,
    is_fetcher,
    literal_output,
    reads_script_from_stdin,
    substitution_output,
    upstream_closure,
)
from railguard.detect.shell._limits import (
    MAX_COMMANDS,
    MAX_EXPANSIONS,
    MAX_NESTING,
    MAX_PARSED_CHARS,
    MAX_PIPELINE_STAGES,
    MAX_SCRIPT_LEVELS,
    MAX_WALK_STEPS,
    MAX_WORDS,
    check_size,
)
from railguard.detect.shell._model import ShellFinding
from railguard.detect.shell._plain import plain_words
from railguard.detect.shell._repair import bash_heredoc_bodies, repair_syntax
from railguard.detect.shell._rules_rc import startup_text_findings
from railguard.detect.shell._spawn import (
    MEANS_TOOLS,
    STDIN_MEANS_TOOLS,
    awk_program,
    sed_execution,
    sed_scripts,
    spawned_commands,
)
from railguard.detect.shell._syntax import (
    Exec,
    Node,
    Redirect,
    Word,
    WordEvaluator,
    expand_words,
    parse,
    text_of,
)
from railguard.detect.shell._unwrap import (
    INTERPRETERS,
    SHELLS,
    WRAPPERS_WITH_EFFECTS,
    Unwrapped,
    inline_code,
    unwrap_step,
)

if TYPE_CHECKING:
    from railguard.detect.shell._inline import InlineResult

# Package runners (and screen) whose own flags the rules judge before the walker peels them off (`_rules_devbox`).
_RUNNERS = frozenset(
    {"npx", "pnpx", "bunx", "uvx", "pipx", "npm", "pnpm", "yarn", "bun", "nix", "uv", "screen"}
)


def _written_text_findings(path: str, content: str) -> Iterator[ShellFinding]:
    from railguard.detect.shell import _rules_devbox  # imports the walker: not at load

    return _rules_devbox.written_text_findings(path, content)


_STARTUP_FILES = frozenset({".bashrc", ".bash_profile", ".profile", ".zshrc", ".zprofile", ".zshenv", ".bash_login",
                            ".bash_logout", ".kshrc", ".cshrc", ".tcshrc", "rc.local", "environment",
                            "config.fish", ".bash_aliases", ".zlogin", ".zsh_aliases"})  # fmt: skip
# System-wide login scripts (every user's shell reads them) and cron tables (entries run on a schedule).
_SYSTEM_STARTUP = (
    "/etc/profile.d/",
    "/etc/bash.bashrc",
    "/etc/profile",
    "/etc/zsh/",
    "/etc/zshrc",
    "/etc/zprofile",
)
_CRON_DIRS = ("/var/spool/cron/", "/etc/cron.d/", "/etc/crontab")
_UNIT_COMMAND = LazyRe2(
    r"(?m)^(?:ExecStart|ExecStartPre|ExecStartPost|ExecStop|ExecReload|Exec)=[-@+!:]*(.+)$"
)
# Files whose text runs at the next build, install, commit or CI run: what is written there is judged now.
_BUILD_FILES = frozenset({"Makefile", "makefile", "GNUmakefile", "setup.py", "build.rs", "build.gradle",
                          "build.gradle.kts", "settings.gradle", ".gitlab-ci.yml", "Jenkinsfile", "conftest.py",
                          "noxfile.py", "Rakefile", "Taskfile.yml", "justfile", "Justfile"})  # fmt: skip
_BUILD_DIRS = ("/.github/workflows/", "/.husky/", "/.git/hooks/", "/.circleci/", "/.buildkite/")
# The commands inside such text: a line without a YAML key or make recipe prefix, or a quoted string
# (`os.system("...")`, `commandLine "bash", "-c", "..."`).
_SNIPPET_PREFIX = re.compile(r"^\s*(?:-\s*)?(?:[\w-]+:\s*(?:\[\s*)?)?[@-]?")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.){4,})"|\'([^\']{4,})\'')


def _runs_in_builds(path: str) -> bool:
    return posixpath.basename(path) in _BUILD_FILES or any(d in path for d in _BUILD_DIRS)


def _shell_snippets(content: str) -> list[str]:
    snippets = [_SNIPPET_PREFIX.sub("", line, count=1) for line in content.splitlines() if line.strip()]
    snippets += [a or b for a, b in _QUOTED.findall(content)]
    return [s for s in snippets if s.strip()]


# Variables whose value a later program runs as a command.
_SCRIPT_VARIABLES = frozenset({"GIT_SSH_COMMAND", "GIT_EDITOR", "GIT_PAGER", "EDITOR", "VISUAL", "PAGER", "MANPAGER",
                               "PROMPT_COMMAND", "BASH_ENV", "ENV", "LESSOPEN", "LESSCLOSE", "GIT_ASKPASS",
                               "SSH_ASKPASS", "SUDO_ASKPASS", "GIT_EXTERNAL_DIFF", "GIT_SEQUENCE_EDITOR"})  # fmt: skip
_POSITIONAL = ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "@", "*")
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
_SKIP = frozenset(
    {"comment", "heredoc_body", "heredoc_start", "heredoc_end", "variable_name", "file_descriptor"}
)
_SAFE_EVAL_SOURCES = frozenset(
    {
        "ssh-agent",
        "pyenv",
        "rbenv",
        "nodenv",
        "direnv",
        "brew",
        "conda",
        "zoxide",
        "starship",
        "fnm",
        "mise",
        "rtx",
        "opam",
        "dircolors",
        "keychain",
        "gpg-agent",
        "thefuck",
        "register-python-argcomplete",
        "kubectl",
        "minikube",
        "docker-machine",
        "luarocks",
        "jenv",
        "goenv",
        "plenv",
        "swiftenv",
        "mamba",
        "micromamba",
        "oh-my-posh",
        "fzf",
        "atuin",
        "navi",
        "rbw",
        "perl",
    }
)


_ENDLESS = {"while": ("true", ":", "[ 1 ]", "(( 1 ))"), "until": ("false", "[ 0 ]")}


@lru_cache(maxsize=1)
def _inline_inspector() -> Callable[[str, str], InlineResult]:
    """`_inline.inspect`, loaded (with its 13 re2 patterns) on the first inline code a walk meets:
    most commands have none. Off the deadline's clock: it is the process's start-up."""

    def load() -> Callable[[str, str], InlineResult]:
        from railguard.detect.shell._inline import inspect

        return inspect

    return off_the_clock(load)


def _loop_kind(node: Node) -> str:
    """`while true`, `while :`, `until false`: endless; any other `while`/`until` or `for` loop: bounded
    by its input or condition."""
    if node.type != "while_statement":
        return "for"
    keyword = node.children[0].type if node.children else ""
    condition = " ".join(text_of(c) for c in node.children_by_field_name("condition") if c.type != ";")
    return "endless" if condition.strip() in _ENDLESS.get(keyword, ()) else "while"


class Walker:
    def __init__(self, workspace: str | None, home: str | None) -> None:
        self.workspace = workspace
        self.home = home
        self.execs: list[Exec] = []
        self.findings: list[ShellFinding] = []
        self.unparsed = False
        # bash's default IFS: `rm${IFS}-rf${IFS}/` splits into three words
        self.env: dict[str, str] = {"PWD": ".", "OLDPWD": "..", "IFS": " \t\n"}
        self.var_subs: dict[str, list[Exec]] = {}
        self.functions: set[str] = set()
        self._depth = 0
        self._via: tuple[str, ...] = ()
        self.cwd: str | None = None  # follows `cd` so `cd / && rm -rf *` is judged at /
        self.files: dict[str, str] = {}  # literal text written to files earlier in the command
        self.tainted: set[str] = set()  # files written from a download or a decoder
        self.opaque: set[str] = set()  # files (and cloned dirs) written with content we cannot see
        self.aliases: dict[str, str] = {}
        self.assignments: list[tuple[str, str]] = []  # literal `NAME=value` seen (prefix, plain or export)
        # work done so far, against the caps of `_limits` (past one, InputTooLarge: never a partial answer)
        self._nesting = 0
        self._steps = 0
        self._words = 0
        self._loop = ""  # the kind of loop around the node walked now (see `Exec.loop`)
        self._unrolling = 1  # walks of the node walked now, from the `for` loops unrolled around it
        self._expansions = 0
        self._parsed_chars = 0

    # ---- entry points -------------------------------------------------------------------------
    def walk_script(self, script: str, label: str | None = None) -> list[Exec]:
        if self._depth >= MAX_SCRIPT_LEVELS:
            raise InputTooLarge("the levels of scripts run by scripts (`bash -c`, `eval` ...)", self._depth + 1,
                                MAX_SCRIPT_LEVELS)  # fmt: skip
        if label:
            self._expansions += 1
            if self._expansions > MAX_EXPANSIONS:
                raise InputTooLarge("the scripts parsed again (`bash -c`, `eval`, heredocs ...)",
                                    self._expansions, MAX_EXPANSIONS)  # fmt: skip
        self._parsed_chars += len(script)
        if self._parsed_chars > MAX_PARSED_CHARS:
            raise InputTooLarge("the text parsed, with every script run by the command (characters)",
                                self._parsed_chars, MAX_PARSED_CHARS)  # fmt: skip
        check_size(script)
        checkpoint("shell: parse")
        saved = self._via
        self._depth += 1
        if label:
            self._via = (*self._via, label)
        try:
            # the grammar may end a heredoc body early and still parse: bodies are cut where bash cuts them
            script = bash_heredoc_bodies(script)
            plain = plain_words(script)
            if plain is not None:  # one command of plain words: the same words without the parser
                return self._plain_line(plain)
            tree = parse(script)
            if tree.root_node.has_error:
                repaired = repair_syntax(script)
                if repaired != script:
                    tree = parse(repaired)
            if tree.root_node.has_error:
                self.flag_unparsed("syntax-error", "the command does not parse as bash")
            return self._walk(tree.root_node)
        finally:
            self._depth -= 1
            self._via = saved

    def _add(self, exec_: Exec) -> None:
        if len(self.execs) >= MAX_COMMANDS:
            raise InputTooLarge("the simple commands the command runs", len(self.execs) + 1, MAX_COMMANDS)
        if self._loop and exec_.loop != "endless":
            exec_.loop = self._loop
        self.execs.append(exec_)

    def flag_unparsed(self, rule: str, detail: str) -> None:
        self.unparsed = True
        if not any(f.rule == rule for f in self.findings):
            self.findings.append(ShellFinding("unparsed", rule, "ask", "medium", detail))

    # ---- tree walking -------------------------------------------------------------------------
    def _walk(self, node: Node) -> list[Exec]:
        kind = node.type
        if kind in _SKIP:
            return []
        self._step()
        if kind == "list":
            return self._list(node)
        try:
            self._deeper()
            return self._walk_node(node, kind)
        finally:
            self._nesting -= 1

    def _step(self) -> None:
        """One syntax node walked: counted against its cap, and a point where the deadline is checked."""
        self._steps += 1
        if self._steps > MAX_WALK_STEPS:
            raise InputTooLarge("the syntax nodes walked (loops walk their body per value)", self._steps,
                                MAX_WALK_STEPS)  # fmt: skip
        checkpoint("shell: walk")

    def _deeper(self) -> None:
        """One level of nesting entered (the caller restores `_nesting`), counted against its cap."""
        self._nesting += 1
        if self._nesting > MAX_NESTING:
            raise InputTooLarge("the shell command's nesting depth", self._nesting, MAX_NESTING)

    def _list(self, node: Node) -> list[Exec]:
        """`a && b || c`: tree-sitter nests each operator to the left; walked as a flat sequence so a
        long chain is no deeper than a short one."""
        chain: list[Node] = []
        pending = [node]
        while pending:
            current = pending.pop()
            if current.type == "list":
                pending.extend(reversed(current.named_children))
            else:
                chain.append(current)
        return [e for child in chain for e in self._walk(child)]

    def _walk_node(self, node: Node, kind: str) -> list[Exec]:
        if node.is_missing or kind == "ERROR":
            self.flag_unparsed("syntax-error", "the command does not parse as bash")
        if kind == "command":
            return self._command(node)
        if kind == "pipeline":
            return self._pipeline(node)
        if kind == "redirected_statement":
            return self._redirected(node)
        if kind == "variable_assignment":
            self._assignment(node)
            return []
        if kind == "unset_command":
            self._unset(node)
            return []
        if kind in ("command_substitution", "process_substitution"):
            return self._substitution(node, "$()")
        if kind in ("for_statement", "c_style_for_statement", "while_statement"):
            saved_loop = self._loop
            self._loop = "endless" if saved_loop == "endless" else _loop_kind(node)
            try:
                if kind == "for_statement":
                    return self._for(node)
                return [e for child in node.named_children for e in self._walk(child)]
            finally:
                self._loop = saved_loop
        if kind == "function_definition":
            name = node.child_by_field_name("name")
            if name is not None:
                self.functions.add(text_of(name))
            self._check_fork_bomb(node)
        out: list[Exec] = []
        for child in node.named_children:
            out.extend(self._walk(child))
        return out

    def _for(self, node: Node) -> list[Exec]:
        """`for d in / ~; do rm -rf $d; done`: walk the body once per literal value (up to 8). Nested
        loops are unrolled while their values multiply to at most 64 walks of the innermost body; past
        that a loop's variable stays unknown (judged as dynamic), so nesting costs 64x at most, not 8 to
        the power of the depth."""
        variable = node.child_by_field_name("variable")
        body = node.child_by_field_name("body")
        values = [self._evaluator().evaluate(v) for v in node.children_by_field_name("value")]
        if variable is None or body is None:
            return [e for child in node.named_children for e in self._walk(child)]
        name = text_of(variable)
        out: list[Exec] = []
        static = [v for v in values if not v.dynamic][:8]
        if self._unrolling * len(static) > 64:
            static = []
        saved = self._unrolling
        self._unrolling *= max(1, len(static))
        try:
            for value in static or [Word("")]:
                checkpoint("shell: for loop")
                if static:
                    self.env[name] = value.text
                else:
                    self.env.pop(name, None)
                out.extend(self._walk(body))
        finally:
            self._unrolling = saved
        return out

    def _substitution(self, node: Node, label: str) -> list[Exec]:
        saved = self._via
        self._via = (*self._via, label)
        try:
            out: list[Exec] = []
            for child in node.named_children:
                out.extend(self._walk(child))
            return out
        finally:
            self._via = saved

    def _evaluator(self) -> WordEvaluator:
        return WordEvaluator(self.env, self._substitution, self.var_subs, substitution_output)

    def _prefix_assignment(self, node: Node, evaluator: WordEvaluator) -> None:
        """`X=$(cmd) prog`: the substitution runs; `GIT_SSH_COMMAND='...' git` runs the value later."""
        value_node = node.child_by_field_name("value")
        if value_node is None:
            return
        value = evaluator.evaluate(value_node)
        name_node = node.child_by_field_name("name")
        self._script_variable(text_of(name_node) if name_node is not None else "", value)

    def _script_variable(self, name: str, value: Word) -> None:
        # PATH is nearly always `DIR:$PATH`: its literal head is what is judged
        if (not value.dynamic or name == "PATH") and len(self.assignments) < 64:
            self.assignments.append((name, value.text))
        if name in _SCRIPT_VARIABLES and not value.dynamic and value.text.strip():
            self.walk_script(value.text, f"${name}")

    def _unset(self, node: Node) -> None:
        """`unset HISTFILE`: the variable is empty from here on, judged like `HISTFILE=`."""
        for child in node.named_children:
            if child.type == "variable_name":
                name = text_of(child)
                self.env.pop(name, None)
                self._script_variable(name, Word(""))

    def _assignment(self, node: Node) -> None:
        name_node = node.child_by_field_name("name")
        value_node = node.child_by_field_name("value")
        name = text_of(name_node) if name_node is not None else ""
        if value_node is not None and value_node.type == "array":
            self._array(name, value_node)
            return
        value = self._evaluator().evaluate(value_node) if value_node is not None else Word("")
        self._script_variable(name, value)
        if value.dynamic:
            self.env.pop(name, None)
            self.var_subs[name] = value.subs
        else:
            self.env[name] = value.text
            self.var_subs.pop(name, None)

    def _array(self, name: str, node: Node) -> None:
        """`x=(rm -rf /)`: `$x` is the first element, `"${x[@]}"` all of them, one word each."""
        evaluator = self._evaluator()
        items = [evaluator.evaluate(child) for child in node.named_children]
        for key in (name, f"{name}[@]", f"{name}[*]"):
            self.env.pop(key, None)
        if any(item.dynamic for item in items):
            self.var_subs[name] = [sub for item in items for sub in item.subs]
            return
        self.var_subs.pop(name, None)
        self.env[name] = items[0].text if items else ""
        self.env[f"{name}[@]"] = self.env[f"{name}[*]"] = " ".join(item.text for item in items)
        for index, item in enumerate(items[:16]):
            self.env[f"{name}[{index}]"] = item.text

    def _pipeline(self, node: Node) -> list[Exec]:
        if node.named_child_count > MAX_PIPELINE_STAGES:
            raise InputTooLarge("a pipeline's stages", node.named_child_count, MAX_PIPELINE_STAGES)
        stages = [self._walk(child) for child in node.named_children]
        stages = [stage for stage in stages if stage]
        for producers, consumers in itertools.pairwise(stages):
            self._link(producers, consumers)
        return [e for stage in stages for e in stage]

    def _link(self, producers: list[Exec], consumers: list[Exec]) -> None:
        for consumer in consumers:
            consumer.upstream.extend(producers)
            for producer in producers:
                producer.consumers.append(consumer)
            if consumer.stdin_text is None:
                consumer.stdin_text = literal_output(consumer.upstream)  # `echo 'DROP ...' | psql`
            self._feed_stdin(consumer)
            if consumer.words and basename(consumer.words[0].text) == "tee":
                self.remember_written([consumer])  # only now is it known what flows into the file

    def _redirected(self, node: Node) -> list[Exec]:
        body = node.child_by_field_name("body")
        execs = self._walk(body) if body is not None else []
        for child in node.named_children:
            if child.type in _REDIRECTS:
                execs = self._apply_redirect(child, execs)
        self.remember_written(execs)
        if not execs:
            # A bare redirection (`> /dev/sda`) truncates its target: model it as `true > target`;
            # `exec 3<>/dev/tcp/...` keeps its descriptors open for later commands.
            bare = Exec([Word(":" if body is None else "exec")], via=self._via)
            for child in node.named_children:
                if child.type == "file_redirect":
                    self._apply_redirect(child, [bare])
            self._add(bare)
            execs = [bare]
        return execs

    def _apply_redirect(self, node: Node, execs: list[Exec]) -> list[Exec]:
        """Attach one redirect to the statement's commands; returns the statement's commands."""
        if node.type == "heredoc_redirect":
            body = next((c for c in node.named_children if c.type == "heredoc_body"), None)
            target = execs[-1] if execs else None
            if target is not None and body is not None:
                target.stdin_text = text_of(body)
                self._feed_stdin(target)
            tail: list[Exec] = []
            for child in node.named_children:
                if child.type in _REDIRECTS:  # `cat <<EOF > file`: the file redirect nests in the heredoc
                    self._apply_redirect(child, execs)
                elif child.type not in _SKIP:
                    tail.extend(self._walk(child))
            piped = any(c.type == "|" for c in node.children) or (
                tail
                and any(
                    c.type == "pipeline" and c.children and c.children[0].type == "|"
                    for c in node.named_children
                )
            )
            if piped and target is not None and tail:
                self._link([target], tail[:1])
            return execs + tail
        if node.type == "herestring_redirect":
            word = self._evaluator().evaluate(node.named_children[-1]) if node.named_children else Word("")
            for exec_ in execs[-1:]:
                exec_.stdin_text = None if word.dynamic else word.text  # dynamic: judged by its sources
                for sub in word.subs:
                    exec_.upstream.append(sub)
                    sub.consumers.append(exec_)
                self._feed_stdin(exec_)
            return execs
        redirect = self._file_redirect(node)
        for exec_ in execs:
            exec_.redirects.append(redirect)
            if redirect.op in ("<", "<>") and redirect.target is not None:
                for sub in redirect.target.subs:
                    exec_.upstream.append(sub)
                    sub.consumers.append(exec_)
                self._feed_stdin(exec_)
        return execs

    def _file_redirect(self, node: Node) -> Redirect:
        op = "".join(text_of(c) for c in node.children if not c.is_named).strip()
        fd_node = node.child_by_field_name("descriptor")
        destinations = node.children_by_field_name("destination")
        target = self._evaluator().evaluate(destinations[0]) if destinations else None
        return Redirect(op=op or ">", target=target, fd=text_of(fd_node) if fd_node is not None else "")

    # ---- simple commands ----------------------------------------------------------------------
    def _command(self, node: Node) -> list[Exec]:
        evaluator = self._evaluator()
        words: list[Word] = []
        redirects: list[Node] = []
        for child in node.named_children:
            checkpoint("shell: expansion")
            if child.type == "variable_assignment":
                self._prefix_assignment(child, evaluator)
            elif child.type in _REDIRECTS:
                redirects.append(child)
            elif child.type != "comment":
                words.append(evaluator.evaluate(child))
                if self._words + len(words) > MAX_WORDS:
                    raise InputTooLarge("the words of the commands the command runs", self._words + len(words),
                                        MAX_WORDS)  # fmt: skip
        return self._simple_command(words, redirects)

    def _plain_line(self, texts: list[str]) -> list[Exec]:
        """A script of plain words (see `_plain`), walked as `_walk` walks its tree: the program node,
        then its one command node (a step and a level of nesting each), whose words are the texts."""
        depth = self._nesting
        try:
            for _ in range(2):
                self._step()
                self._deeper()
            if self._words + len(texts) > MAX_WORDS:  # `_command` stops at the first word past the cap
                raise InputTooLarge("the words of the commands the command runs", MAX_WORDS + 1, MAX_WORDS)
            # a comma marks a word for brace expansion, as the evaluator marks an unquoted one
            return self._simple_command([Word(text, brace="," in text) for text in texts], [])
        finally:
            self._nesting = depth

    def _simple_command(self, words: list[Word], redirects: list[Node]) -> list[Exec]:
        words = expand_words(words, self.env.get("IFS", ""))
        self._words += len(words)
        if self._words > MAX_WORDS:
            raise InputTooLarge("the words of the commands the command runs", self._words, MAX_WORDS)
        exec_ = Exec(words, via=self._via, cwd=self.cwd)
        for word in words:
            for sub in word.subs:
                sub.consumers.append(exec_)
        execs = self._expand(exec_)
        for redirect in redirects:
            execs = self._apply_redirect(redirect, execs) if execs else execs
        if redirects:
            self.remember_written(execs)
        return execs

    def _expand(self, exec_: Exec) -> list[Exec]:
        """Peel wrappers until the real command shows; parse script strings again."""
        for _ in range(16):
            checkpoint("shell: unwrap")
            if not exec_.words:
                return []
            head = exec_.words[0]
            if head.dynamic or not head.text:
                self.flag_unparsed(
                    "dynamic-command-name", "the command name comes from a variable or substitution"
                )
                self._add(exec_)
                return [exec_]
            name = basename(head.text)
            if head.glob:
                self.flag_unparsed("glob-command-name", "the command name is a glob pattern")
            if name == "find":
                return self._find(exec_)
            if name in self.functions:
                break
            # bash expands an alias for the bare word only, and never inside its own expansion
            if name in self.aliases and head.text == name and f"alias {name}" not in exec_.via:
                return self._run_alias(exec_, name)
            if name == "alias":
                self._record_aliases(exec_)
            if name == "set" and len(exec_.words) > 1 and exec_.words[1].text == "--":
                self._bind_positional([Word("set"), *exec_.words[2:]])
            step = unwrap_step(name, exec_.words)
            if step is None:
                break
            if name in WRAPPERS_WITH_EFFECTS or step.keeps_outer:
                # `nsenter -t 1 -m sh`, `chroot /host sh`: entering is the effect, whatever runs inside
                self._add(Exec(list(exec_.words), via=exec_.via, cwd=exec_.cwd))
            if name in _RUNNERS:  # the runner's own words (`npx --yes`, `uvx --from git+...`) are lost below
                from railguard.detect.shell import _rules_devbox, _view  # imports the walker: not at load

                ctx = _view.Ctx(self.workspace, self.home)
                self.findings.extend(_rules_devbox.runner_findings(exec_.words, ctx))
            exec_.via = (*exec_.via, step.label)
            if (
                step.script is not None
                and exec_.dynamic_operands
                and step.script.text.strip() in ("", "$XARGS")
            ):
                # `xargs sh -c`, `xargs -I{} sh -c {}`: each input item is the script: the shell runs its input
                exec_.script_from_input = True
                break
            if step.script is not None:
                return self._script(exec_, step)
            exec_.words = step.words or []
            exec_.dynamic_operands = exec_.dynamic_operands or step.dynamic_operands
        self._add(exec_)
        self._inline(exec_)
        name = basename(exec_.words[0].text) if exec_.words else ""
        if name in ("cd", "pushd"):
            self._change_directory(exec_)
        for script in spawned_commands(name, exec_.words):
            self.walk_script(script, f"{name} option")
        self._means(exec_, name)
        if name == "git":
            self._note_clone(exec_)
        self._substituted_files(exec_, name)
        self._run_written_file(exec_, name)
        return [exec_]

    def _substituted_files(self, exec_: Exec, name: str) -> None:
        """`sh <(echo 'rm -rf ~')`, `psql -f <(echo 'DROP ...')`: a process substitution whose literal
        output the command reads as its script."""
        for word in exec_.words[1:]:
            if not word.text.startswith("<(") or not word.subs:
                continue
            text = literal_output(word.subs[:1]) if len(word.subs) == 1 else None
            if text is None:
                continue
            if name in SHELLS or name in ("source", "."):
                self.walk_script(text, f"{name} <()")
            elif name in INTERPRETERS:
                self._inspect_code(INTERPRETERS[name], text, f"{name} <()")
            elif exec_.stdin_text is None:
                exec_.stdin_text = text  # database clients judge the SQL they are fed
            return

    def _note_clone(self, exec_: Exec) -> None:
        """`git clone URL DIR`: DIR holds code nobody reviewed; running a file from it is asked about."""
        argv = exec_.argv
        if "clone" not in argv[1:3]:
            return
        operands = [a for a in argv[argv.index("clone") + 1 :] if not a.startswith("-")]
        if not operands:
            return
        target = operands[1] if len(operands) > 1 else basename(operands[0]).removesuffix(".git")
        self.opaque.add(self._resolve(target))

    def _record_aliases(self, exec_: Exec) -> None:
        for word in exec_.words[1:]:
            alias, sep, body = word.text.partition("=")
            if sep and alias and not word.dynamic:
                self.aliases[alias] = body

    def _run_alias(self, exec_: Exec, name: str) -> list[Exec]:
        """`alias x=rm; x -rf /`: the alias body replaces the name (aliases expand in scripts run
        with `shopt -s expand_aliases` and in every interactive shell)."""
        rest = " ".join(shlex.quote(w.text) if not w.dynamic else w.text for w in exec_.words[1:])
        return self.walk_script(f"{self.aliases[name]} {rest}", f"alias {name}")

    def _run_written_file(self, exec_: Exec, name: str) -> None:
        """`echo 'rm -rf /' > x.sh && bash x.sh`: run what this command wrote earlier."""
        if not self.files and not self.tainted and not self.opaque:
            return
        argv = exec_.argv
        candidates = [argv[0]] if "/" in argv[0] else []
        if name in SHELLS or name in ("source", ".") or name in INTERPRETERS:
            candidates += [a for a in argv[1:] if not a.startswith("-")][:1]
        for candidate in candidates:
            path = self._resolve(candidate)
            if path in self.tainted:
                self.findings.append(
                    ShellFinding(
                        "remote_code",
                        "run-downloaded-file",
                        "block",
                        "critical",
                        f"{name} runs {path}, written from a download or decoder",
                    )
                )
            content = self.files.get(path)
            if content is None:
                if self._under(path, self.opaque):
                    self.flag_unparsed(
                        "run-opaque-file", f"{name} runs {path}, written earlier with unseen content"
                    )
                continue
            if name in INTERPRETERS:
                self._inspect_code(INTERPRETERS[name], content, f"{name} written file")
            else:
                self.walk_script(content, f"{name} written file")

    @staticmethod
    def _under(path: str, roots: set[str]) -> bool:
        return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)

    def _resolve(self, path: str) -> str:
        return resolve_path(path, workspace=self.cwd or self.workspace or ".", home=self.home)

    def remember_written(self, execs: list[Exec]) -> None:
        """Record what commands write to files: literal text (echo/printf/cat-heredoc > f, tee f) to
        run later, downloaded or decoded bytes as tainted. Text appended to shell startup files runs
        at the next login, so it is analyzed now."""
        for exec_ in execs:
            name = basename(exec_.words[0].text) if exec_.words else ""
            targets = [r.target.text for r in exec_.redirects if r.op in (">", ">>", ">|", "&>") and r.target]
            if name == "tee":
                targets += [w.text for w in exec_.words[1:] if not w.text.startswith("-")]
            if not targets:
                continue
            content = exec_.stdin_text if name == "tee" else literal_output([exec_])
            sources = [exec_, *upstream_closure(exec_)]
            tainted = any(is_fetcher(s) or is_decoder(s) for s in sources)
            for target in targets[:4]:
                path = self._resolve(target)
                if tainted:
                    self.tainted.add(path)
                if content is None:
                    self.opaque.add(path)
                else:
                    self.files[path] = content
                    self.findings.extend(_written_text_findings(path, content))
                    if posixpath.basename(path) in _STARTUP_FILES or path.startswith(_SYSTEM_STARTUP):
                        self.findings.extend(startup_text_findings(content, posixpath.basename(path)))
                        self.walk_script(content, f"{posixpath.basename(path)} (runs at login)")
                    elif path.endswith((".service", ".desktop")):  # the unit's or entry's command runs later
                        for match in itertools.islice(_UNIT_COMMAND.finditer(content), 8):
                            self.walk_script(
                                match.group(1), f"{posixpath.basename(path)} (runs when started)"
                            )
                    elif path.startswith(_CRON_DIRS):  # each entry's command runs on its schedule
                        entries = "\n".join(_cron_command(line) for line in content.splitlines()[:32])
                        self.findings.extend(startup_text_findings(entries, posixpath.basename(path)))
                    elif _runs_in_builds(path):
                        for snippet in _shell_snippets(content)[:16]:
                            self.walk_script(snippet, f"{posixpath.basename(path)} (runs in builds)")

    def _change_directory(self, exec_: Exec) -> None:
        operands = [w for w in exec_.words[1:] if not w.text.startswith("-") or w.text == "-"]
        if not operands:
            self.cwd = "~"
        elif operands[0].dynamic or operands[0].text == "-" or self.cwd == UNKNOWN_CWD:
            self.cwd = UNKNOWN_CWD
        else:
            self.cwd = resolve_path(operands[0].text, workspace=self.cwd or self.workspace, home=self.home)

    def _script(self, exec_: Exec, step: Unwrapped) -> list[Exec]:
        script = step.script or Word("")
        if script.dynamic and script.subs:
            self._dynamic_script(script, step.label)
            return []
        # Unknown variables stay as `$NAME` in the text: parsed again they are unknown there too, so
        # they are judged where they land (`bash -c "rm -rf $DIR"` asks, `$CMD` as a name is unparsed).
        saved = self._via
        saved_env = {k: self.env[k] for k in _POSITIONAL if k in self.env}
        self._via = exec_.via[:-1]
        if step.params is not None:
            self._bind_positional(step.params)
        try:
            inner = self.walk_script(script.text, step.label)
        finally:
            self._via = saved
            if step.params is not None:
                for key in _POSITIONAL:
                    self.env.pop(key, None)
                self.env.update(saved_env)
        for item in inner:
            item.upstream.extend(exec_.upstream)
            item.dynamic_operands = item.dynamic_operands or exec_.dynamic_operands
        return inner

    def _bind_positional(self, params: list[Word]) -> None:
        """`sh -c 'rm -rf "$1"' _ /`: $0 is the first word after the script, $1... the rest."""
        for key in _POSITIONAL:
            self.env.pop(key, None)
        for index, word in enumerate(params[:10]):
            if not word.dynamic:
                self.env[str(index)] = word.text
        rest = params[1:]
        if rest and not any(w.dynamic for w in rest):
            self.env["@"] = self.env["*"] = " ".join(w.text for w in rest)

    def _dynamic_script(self, script: Word, label: str) -> None:
        sources = [s for sub in script.subs for s in (sub, *upstream_closure(sub))]
        if any(is_fetcher(s) or is_decoder(s) for s in sources):
            self.findings.append(
                ShellFinding(
                    "remote_code",
                    "exec-downloaded-script",
                    "block",
                    "critical",
                    f"{label} runs text produced by a download or decoder",
                )
            )
        elif not sources or not all(basename(s.argv[0]) in _SAFE_EVAL_SOURCES for s in sources if s.words):
            self.flag_unparsed("dynamic-script", f"{label} runs a script built at run time")

    def _find(self, exec_: Exec) -> list[Exec]:
        argv = exec_.words
        roots, index = find_roots(exec_)
        self._add(exec_)
        tail = argv[index:]
        # `-type f` picks every file (no filter); `-type d`/`-type l` pick only directories or links
        filtered = any(w.text in _FIND_FILTERS for w in tail) or any(
            w.text == "-type" and nxt.text != "f" for w, nxt in itertools.pairwise(tail)
        )
        names = [argv[j + 1].text for j in range(index, len(argv) - 1) if argv[j].text in ("-name", "-iname")]
        # one name pattern and no alternative: `{}` stands for files of that name (`-name '*.pem'`)
        only = (
            names[0] if len(names) == 1 and not any(w.text in ("-o", "-or") for w in argv[index:]) else None
        )
        i = index
        while i < len(argv):
            text = argv[i].text
            if text in ("-exec", "-execdir", "-ok", "-okdir"):
                end = i + 1
                while end < len(argv) and argv[end].text not in (";", "+", "\\;"):
                    end += 1
                for root in roots:
                    inner = [self._find_target(w, root, only) for w in argv[i + 1 : end]]
                    if inner and basename(inner[0].text) == "rm" and not filtered:
                        inner.insert(1, Word("-r"))  # unfiltered, find hands rm every file at every level
                    child = Exec(inner, via=(*exec_.via, f"find {text}"), selective=filtered)
                    self._expand(child)
                i = end + 1
                continue
            if text in ("-fprint", "-fprint0", "-fprintf", "-fls") and i + 1 < len(argv):
                self.opaque.add(self._resolve(argv[i + 1].text))  # a file whose lines come from the walk
                # ... and is truncated first: judged as the write it is
                self.walk_script(f"true | tee -- {shlex.quote(argv[i + 1].text)}", f"find {text}")
            if text == "-delete":
                for root in roots:
                    target = root if not filtered else Word(root.text.rstrip("/") + "/*", root.dynamic, True)
                    flags = [Word("-r"), Word("-f")] if not filtered else [Word("-f")]
                    via = (*exec_.via, "find -delete")
                    self._expand(Exec([Word("rm"), *flags, target], via=via, selective=filtered))
            i += 1
        return [exec_]

    @staticmethod
    def _find_target(word: Word, root: Word, name: str | None = None) -> Word:
        if "{}" not in word.text:
            return word
        leaf = name if name and "/" not in name else "*"
        joined = root.text.rstrip("/") + "/" + leaf
        return Word(word.text.replace("{}", joined), dynamic=word.dynamic or root.dynamic, glob=True)

    # ---- stdin-fed scripts and inline code ------------------------------------------------------
    def _feed_stdin(self, exec_: Exec) -> None:
        """A shell reading its script from stdin: parse the script when it is a literal we can see."""
        if not exec_.words or exec_.words[0].dynamic:
            return
        name = basename(exec_.words[0].text)
        if name in ("make", "gmake", "crontab"):
            self._scheduled_or_recipe_text(exec_, name)
            return
        if name in STDIN_MEANS_TOOLS or name.startswith("python"):
            self._means(exec_, name, stdin_only=True)
        reads_stdin = reads_script_from_stdin(exec_)
        if not reads_stdin:
            return
        text = exec_.stdin_text if exec_.stdin_text is not None else literal_output(exec_.upstream)
        if text is None:
            return
        if name in SHELLS or name in ("ssh", "at", "batch"):
            self.walk_script(text, f"{name} <stdin")
        elif name in INTERPRETERS:
            self._inspect_code(INTERPRETERS[name], text, f"{name} <stdin")

    def _scheduled_or_recipe_text(self, exec_: Exec, name: str) -> None:
        """`crontab - <<< '* * * * * CMD'` and `make -f - <<EOF` run commands from the text they read:
        cron entries after their five time fields, makefile recipe lines (tab-indented)."""
        argv = exec_.argv
        if name == "crontab":
            operands = [a for a in argv[1:] if not a.startswith("-") or a == "-"]
            from_stdin = not operands or operands[0] == "-"
            source = operands[0] if operands and not from_stdin else None
        else:
            index = next((i for i, a in enumerate(argv) if a in ("-f", "--file", "--makefile")), None)
            source = argv[index + 1] if index is not None and index + 1 < len(argv) else None
            # tree-sitter drops a lone `-` before a heredoc: `-f` without a value reads stdin too
            from_stdin = source in ("-", "/dev/stdin") or (index is not None and source is None)
        text = exec_.stdin_text if from_stdin else self.files.get(self._resolve(source)) if source else None
        if text is None:
            return
        if name == "crontab":
            commands = [_cron_command(line) for line in text.splitlines()]
        else:
            commands = [line.strip().lstrip("@-+") for line in text.splitlines() if line.startswith("\t")]
        script = "\n".join(c for c in commands if c)
        if script:
            self.walk_script(script, f"{name} entry")

    def _sed(self, exec_: Exec) -> None:
        """GNU sed runs `e CMD` and, for bare `e` or `s///e`, the text it reads."""
        for program in sed_scripts(exec_.words) or []:
            commands, runs_input = sed_execution(program)
            for command in commands[:8]:
                self.walk_script(command, "sed e")
            if not runs_input:
                continue
            text = exec_.stdin_text if exec_.stdin_text is not None else literal_output(exec_.upstream)
            sources = upstream_closure(exec_)
            if any(is_fetcher(s) or is_decoder(s) for s in sources):
                self.findings.append(ShellFinding("remote_code", "pipe-download-to-shell", "block", "critical",
                                                  "sed executes downloaded or decoded text"))  # fmt: skip
            elif text is not None:
                self.walk_script(text, "sed e <stdin")
            else:
                self.flag_unparsed("sed-executes-input", "sed runs the text it reads as shell commands")

    def _inline(self, exec_: Exec) -> None:
        name = basename(exec_.words[0].text) if exec_.words else ""
        if name in ("sed", "gsed"):
            self._sed(exec_)
            return
        if name in ("awk", "gawk", "mawk", "nawk"):
            program = awk_program(exec_.words)
            if program is not None:
                self._inspect_code("awk", program.text, f"{name} program")
            return
        kind = INTERPRETERS.get(name) or INTERPRETERS.get(name.rstrip("0123456789."))
        if kind is None:
            return
        code = inline_code(kind, exec_.words)
        if code is None:
            return
        if code.dynamic:
            self._dynamic_script(code, f"{name} inline code")
        self._inspect_code(kind, code.text, f"{name} -c")

    def _means(self, exec_: Exec, name: str, stdin_only: bool = False) -> None:
        """What a tool runs or writes through its own language or options (`_means_tools`); fed
        its stdin later (`stdin_only`), only what the text it reads makes it do."""
        words = exec_.words
        stdin = exec_.stdin_text if exec_.stdin_text is not None else literal_output(exec_.upstream)
        if stdin_only and stdin is None:
            return
        manage = name.startswith("python") and len(words) > 1 and words[1].text.endswith("manage.py")
        if name not in MEANS_TOOLS and not manage:
            return  # the module (and its patterns) loads on the first tool it covers
        from railguard.detect.shell._means_tools import tool_means

        means = tool_means(name, words, stdin if stdin_only else None, stdin_only=stdin_only)
        if means is None:
            return
        self.findings.extend(means.findings)
        for script in means.scripts[:8]:
            self.walk_script(script, f"{name} means")
        for kind, code in means.codes[:2]:
            self._inspect_code(kind, code, f"{name} code")

    def _inspect_code(self, kind: str, code: str, label: str) -> None:
        result = _inline_inspector()(kind, code)
        self.findings.extend(result.findings)
        for script in result.shell_commands:
            self.walk_script(script, label)

    def _check_fork_bomb(self, node: Node) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None or body is None:
            return
        name = text_of(name_node)
        body_text = text_of(body)
        if f"{name}|{name}" in body_text.replace(" ", "") or (f"{name}&" in body_text.replace(" ", "")):
            self.findings.append(
                ShellFinding(
                    "destructive_fs", "fork-bomb", "block", "critical", "fork bomb (self-spawning function)"
                )
            )


def _cron_command(line: str) -> str:
    line = line.strip()
    if not line or line.startswith("#") or ("=" in line.split(None, 1)[0]):
        return ""
    fields = line.split(None, 1 if line.startswith("@") else 5)
    return fields[-1] if len(fields) == (2 if line.startswith("@") else 6) else ""


_FIND_FILTERS = frozenset(
    {
        "-name",
        "-iname",
        "-path",
        "-ipath",
        "-regex",
        "-iregex",
        "-mtime",
        "-amin",
        "-cmin",
        "-used",
        "-anewer",
        "-cnewer",
        "-nouser",
        "-nogroup",
        "-uid",
        "-gid",
        "-lname",
        "-ilname",
        "-mmin",
        "-atime",
        "-ctime",
        "-size",
        "-newer",
        "-user",
        "-group",
        "-perm",
        "-empty",
        "-wholename",
        "-links",
        "-inum",
        "-samefile",
    }
)
