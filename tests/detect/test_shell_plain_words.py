"""Commands of plain words are read without the parser (`_plain`): the analysis must be the one the
parser's reading gives, on every shell command of the data sets and on generated lines."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml

from railguard.detect._budget import InputTooLarge
from railguard.detect.shell import _walk
from railguard.detect.shell._analyze import analyze_uncached
from railguard.detect.shell._limits import MAX_WORDS
from railguard.detect.shell._plain import plain_words

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data"

# Words for generated lines: names, options, paths, hosts, keywords, assignments and the punctuation
# the plain-word reading allows, in every position.
_WORDS = (
    "ls -la rm -rf / git push --force a,b x=1 A=1 export if time in do done . : %1 @x +x - -- 0 42 1e5 -1 "
    "--opt=val a.b:c unset then fi sudo env FOO=bar bash -c xargs sh cd .. /etc/passwd curl http://x.y/z "
    "1.2.3.4 a%b x@y:z -n 5 find -delete true case function coproc echo select local declare readonly "
    "typeset elif esac until while for a=b=c x+=1 a:b=c % @ , ,, a, ,a ., a/b,c @@ %% 1,2 --a=b,c x= "
    "./run.sh /usr/bin/env _x 9 .x a-b a+b + a. git@github.com:x/y.git user@host -p 22 %s -Dx=y -o=x k=v,w "
    "x==y -eq -a -o -ne x=y= a=,b 1=2 -x= @= %= a: :: := -: /= .= _= a_b=c ~/.ssh/id_rsa chmod 777 dd "
    "of=/dev/sda if=/dev/zero kubectl delete ns prod terraform destroy -auto-approve npm publish"
)
_VOCABULARY = _WORDS.split(" ")


def _corpus() -> list[str]:
    commands: list[str] = []
    for path in sorted(DATA.glob("shell_*.yaml")):
        for item in yaml.safe_load(path.read_text()) or []:
            if isinstance(item, dict) and isinstance(item.get("command"), str):
                commands.append(item["command"])
    for path in sorted(DATA.glob("shell_*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.startswith("#"):
                commands.extend(part for part in line.split("\t") if part)
    rng = random.Random(16)
    for _ in range(4000):
        commands.append(" ".join(rng.choice(_VOCABULARY) for _ in range(rng.randint(1, 6))))
    return [c for c in dict.fromkeys(commands) if plain_words(c) is not None]


def _analysis(command: str) -> object:
    try:
        return analyze_uncached(command, "/work/ws", "/home/dev")
    except InputTooLarge as refused:
        return ("refused", str(refused))


def test_plain_reading_is_the_parsers(monkeypatch: pytest.MonkeyPatch) -> None:
    commands = _corpus()
    assert len(commands) > 3000  # most everyday commands are plain words
    plain = [_analysis(c) for c in commands]
    monkeypatch.setattr(_walk, "plain_words", lambda _script: None)
    parsed = [_analysis(c) for c in commands]
    differ = [c for c, a, b in zip(commands, plain, parsed, strict=True) if a != b]
    assert differ == []


@pytest.mark.parametrize(
    "command",
    [
        "ls  -la",  # two spaces: the parser's
        " ls",
        "ls\t-la",
        "A=1 ls",
        "export A=1",
        "time ls",
        "a%b c",
        "x@y:z",
        "-x ls",
        "ls == x",
        "ls *.txt",
        "ls ~",
        "echo $HOME",
        "ls {a,b}",
        "ls; rm x",
        "ls | wc",
        "echo a\\ b",
        "ls 'a b'",
        "",
    ],
)
def test_lines_left_to_the_parser(command: str) -> None:
    assert plain_words(command) is None


def test_plain_lines_keep_the_word_cap() -> None:
    words = " ".join(["echo", *["x"] * MAX_WORDS])
    assert plain_words(words) is not None
    with pytest.raises(InputTooLarge, match="words"):
        analyze_uncached(words, None, None)


def test_commas_still_mark_brace_expansion() -> None:
    # `rm a,b` is one word to bash (no braces): as the parser's reading, a word marked for expansion
    # that expands to itself
    analysis = analyze_uncached("rm -rf a,b", "/work/ws", "/home/dev")
    assert analysis.commands[0].argv == ("rm", "-rf", "a,b")
