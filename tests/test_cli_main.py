"""``tinygrad_edu.cli.main`` in process, where a test can take a renderer or a step away."""

from __future__ import annotations

import argparse

from tinygrad_edu import cli


def subcommands() -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


def test_the_option_tables_of_the_expression_commands_match_their_parsers() -> None:
    # _expression_last relies on these tables to tell EXPR from an option's value.
    for name, parser in subcommands().items():
        if name not in cli._VALUE_OPTIONS:
            continue
        options = parser._option_string_actions
        with_values = {option for option, action in options.items() if action.nargs != 0}
        assert set(cli._VALUE_OPTIONS[name]) == with_values
        short = {option for option in options if not option.startswith("--")}
        assert set(cli._SHORT_OPTIONS[name]) == short
    assert set(cli._VALUE_OPTIONS) == {"graph", "gradcheck"}
