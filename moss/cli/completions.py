"""bash, zsh and fish completion scripts from the command tree (:mod:`moss.cli.cmdtree`).

Each script finds the command typed so far the same way: walk the words, skip
options (and the value of an option that takes one), descend when a word names
a subcommand or alias of the current command.  It then offers that command's
subcommands and options, or file names after an option that takes a value.
"""

from __future__ import annotations

import argparse
from typing import Any

from moss.cli.cmdtree import Command


def _key(node: Command) -> str:
    return " ".join(node.path)


def _valued(nodes: list[Command]) -> list[str]:
    return sorted({s for n in nodes for a in n.options if a.nargs != 0
                   for s in a.option_strings})


def _children(nodes: list[Command]) -> dict[str, str]:
    """``"moss repo ar"`` -> ``"moss repo add"``: every word that descends, to its command."""
    by_parser = {id(n.parser): _key(n) for n in nodes}
    out = {}
    for node in nodes:
        for action in _subs(node.parser):
            for name, child in action.choices.items():
                out[f"{_key(node)} {name}"] = by_parser[id(child)]
    return out


def _subs(parser: argparse.ArgumentParser) -> list[argparse._SubParsersAction[Any]]:
    return [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]


def _words(node: Command) -> str:
    return " ".join([*node.children, *(s for a in node.options for s in a.option_strings)])


def _sh_cases(nodes: list[Command]) -> tuple[str, str]:
    child = "\n".join(f'        "{k}") echo "{v}" ;;' for k, v in _children(nodes).items())
    words = "\n".join(f'        "{_key(n)}") echo "{_words(n)}" ;;' for n in nodes)
    return child, words


_SH_HELPERS = """__moss_child() {
    case "$1" in
CHILD
        *) return 1 ;;
    esac
}

__moss_words() {
    case "$1" in
WORDS
    esac
}

__moss_valued=" VALUED "
"""


def _helpers(nodes: list[Command]) -> str:
    child, words = _sh_cases(nodes)
    return (_SH_HELPERS.replace("CHILD", child).replace("WORDS", words)
            .replace("VALUED", " ".join(_valued(nodes))))


def bash(nodes: list[Command]) -> str:
    return "# bash completion for moss (moss --generate-completions)\n" + _helpers(nodes) + """
_moss() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local cmd=moss skip= i w next
    if [[ $__moss_valued == *" $prev "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
        return
    fi
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -n $skip ]]; then skip=; continue; fi
        if [[ $__moss_valued == *" $w "* ]]; then skip=1; continue; fi
        [[ $w == -* ]] && continue
        next=$(__moss_child "$cmd $w") && cmd=$next
    done
    COMPREPLY=($(compgen -W "$(__moss_words "$cmd")" -- "$cur"))
}
complete -o default -F _moss moss
"""


def zsh(nodes: list[Command]) -> str:
    return "#compdef moss\n# zsh completion for moss (moss --generate-completions)\n" + \
        _helpers(nodes) + """
_moss() {
    local cmd=moss skip= i w next
    if [[ $__moss_valued == *" ${words[CURRENT-1]} "* ]]; then
        _files
        return
    fi
    for ((i = 2; i < CURRENT; i++)); do
        w=${words[i]}
        if [[ -n $skip ]]; then skip=; continue; fi
        if [[ $__moss_valued == *" $w "* ]]; then skip=1; continue; fi
        [[ $w == -* ]] && continue
        next=$(__moss_child "$cmd $w") && cmd=$next
    done
    local -a choices
    choices=(${=$(__moss_words "$cmd")})
    compadd -a choices
}

_moss "$@"
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish(nodes: list[Command]) -> str:
    cases = "\n".join(f"        case {_fish_quote(k)}\n            echo {_fish_quote(v)}"
                      for k, v in _children(nodes).items())
    valued = " ".join(_valued(nodes))
    lines = ["# fish completion for moss (moss --generate-completions)",
             "function __moss_child", "    switch $argv[1]", cases,
             "        case '*'", "            return 1", "    end", "end", "",
             "function __moss_path", "    set -l cmd moss", "    set -l skip 0",
             "    for w in (commandline -opc)[2..-1]",
             "        if test $skip = 1; set skip 0; continue; end",
             f"        if contains -- $w {valued}; set skip 1; continue; end",
             "        if string match -q -- '-*' $w; continue; end",
             '        set -l next (__moss_child "$cmd $w"); and set cmd $next',
             "    end", "    echo $cmd", "end", ""]
    for node in nodes:
        when = _fish_quote(f"test (__moss_path) = {_fish_quote(_key(node))}".replace("'", '"'))
        for name, helptext in node.children.items():
            lines.append(f"complete -c moss -f -n {when} -a {_fish_quote(name)} "
                         f"-d {_fish_quote(helptext)}")
        for action in node.options:
            spell = " ".join(f"-s {s[1:]}" if len(s) == 2 else f"-l {s[2:]}"
                             for s in action.option_strings)
            takes = " -r" if action.nargs != 0 else ""
            lines.append(f"complete -c moss -n {when} {spell}{takes} "
                         f"-d {_fish_quote(action.help or '')}")
    return "\n".join(lines) + "\n"
