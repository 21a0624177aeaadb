"""Every notebook exercise has a checker and a solution; hints never give the answer away."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from tinygrad_edu.exercises import EXERCISES, Feedback, SolutionValue, check, solution

REPOSITORY = Path(__file__).resolve().parents[1]
SOURCES = sorted((REPOSITORY / "notebooks" / "source").glob("[0-9][0-9]_*.py"))
CHECK_CALL = re.compile(r"""check\(\s*["'](\d\d\.\d+)["']""")


def exercises_section(source: Path) -> str:
    """The markdown of a notebook's '## Exercises' section, up to the next heading or cell."""
    text = source.read_text(encoding="utf-8")
    section = text.split("# ## Exercises", 1)[1]
    return re.split(r"^# ## |^# %%", section, maxsplit=1, flags=re.MULTILINE)[0]


@pytest.mark.parametrize("source", SOURCES, ids=[source.stem for source in SOURCES])
def test_every_notebook_exercise_shows_its_check_call_and_has_a_checker(source: Path) -> None:
    section = exercises_section(source)
    numbered = re.findall(r"^# (\d+)\. ", section, re.MULTILINE)
    ids = CHECK_CALL.findall(section)
    notebook = source.name[:2]
    assert numbered, f"{source.name} has no numbered exercises"
    assert ids == [f"{notebook}.{n}" for n in numbered], "one check(...) per exercise, in order"
    assert set(ids) <= set(EXERCISES)


def test_every_checker_belongs_to_an_exercise_in_a_notebook() -> None:
    shown = {i for source in SOURCES for i in CHECK_CALL.findall(exercises_section(source))}
    assert set(EXERCISES) == shown


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_each_solution_passes_its_own_checker(exercise: str) -> None:
    worked = solution(exercise)
    feedback = check(exercise, worked.answer)
    assert isinstance(feedback, Feedback) and feedback, str(feedback)
    assert str(feedback).startswith(f"✓ {exercise}: right")
    assert str(worked).startswith(f"Solution {exercise}\n") and len(worked.text) > 40


def shown_forms(number: float) -> set[str]:
    """The ways a number could appear in a message."""
    return {repr(number), f"{number:g}", f"{number:.3g}", f"{number:.4f}", f"{number:.6g}"}


def wrong_answers(answer: Any) -> list[Any]:
    """Answers near the right one but wrong, of the same kind."""
    if isinstance(answer, (int, float)):
        return [answer + 1, answer * 1.5 + 0.3, -answer - 0.7]
    if isinstance(answer, tuple):
        return [tuple(a + 1 for a in answer), tuple(-a - 0.7 for a in answer)]
    if isinstance(answer, str):
        return ["something else", ""]
    if isinstance(answer, type):
        return [int]
    return [lambda *xs: answer(*xs) + 0.5, lambda *xs: answer(*xs) * -2.0 - 0.1]


def _accepted_spellings(exercise: str) -> tuple[str, ...]:
    from tinygrad_edu import exercises

    return exercises._BY_ID[exercise].accepted  # type: ignore[attr-defined,no-any-return]


def test_the_answer_check_catches_a_hint_that_names_the_answer() -> None:
    # The check above must be able to fail: a hint naming "exp" is caught, "expression" is not.
    pattern = rf"(?<![\w^]){re.escape('exp')}(?![\w^])"
    assert re.search(pattern, "the answer is exp", re.IGNORECASE)
    assert not re.search(pattern, "look at the expression", re.IGNORECASE)


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_wrong_answers_get_a_hint_that_does_not_contain_the_answer(exercise: str) -> None:
    answer = solution(exercise).answer
    for wrong in wrong_answers(answer):
        feedback = check(exercise, wrong)
        assert not feedback, f"{exercise} accepted a wrong answer {wrong!r}"
        assert str(feedback).startswith(f"✗ {exercise}: not yet — ")
        assert feedback.message
        if isinstance(answer, str):
            # No accepted spelling appears in the hint as a word of its own.
            for spelling in _accepted_spellings(exercise):
                pattern = rf"(?<![\w^]){re.escape(spelling)}(?![\w^])"
                assert not re.search(pattern, feedback.message, re.IGNORECASE), (exercise, spelling)
        elif isinstance(answer, (int, float, tuple)):
            numbers = [answer] if not isinstance(answer, tuple) else list(answer)
            for number in numbers:
                for form in shown_forms(number):
                    if len(form) > 2:  # "10" or "3" may name an input or a position
                        assert form not in feedback.message, (exercise, form)
        elif not isinstance(answer, type):
            # a function: the hint names an input and the learner's value, never ours
            point = re.search(r"at \(([^)]*)\)", feedback.message)
            assert point, feedback.message
            inputs = [float(x) for x in point.group(1).split(",")]
            for form in shown_forms(answer(*inputs)):
                assert form not in feedback.message.split(": ", 1)[1]


def test_number_hints_say_which_way_not_how_far() -> None:
    assert check("01.1", 0.3).message == "too large."
    assert check("01.1", 0.2).message == "too small."
    assert check("01.1", -0.25).message == "check the sign."
    assert check("01.1", 0.249)  # within the stated tolerance
    assert check("01.1", "0.25").message == "give a number (int or float), not str."
    assert check("04.3", (2, -6)).message == "de/da: check the sign."
    assert check("04.3", (3, 6)).message == "paths: too large."
    assert "give 2 numbers" in check("04.3", 6).message


def test_a_function_hint_names_the_smallest_failing_input() -> None:
    def right_only_near_zero(x: float) -> float:
        t = math.tanh(x)
        return -2 * t * (1 - t * t) if abs(x) < 1 else 0.0

    feedback = check("09.3", right_only_near_zero)
    assert feedback.message.startswith("at (-1.0) your function returns 0: too small.")

    def overflowing_sigmoid(x: float) -> float:
        return 1 / (1 + math.exp(-x))

    feedback = check("08.1", overflowing_sigmoid)
    assert feedback.message == "at (-800.0) your function raised OverflowError: math range error"
    assert "give a function" in check("08.1", 0.5).message


def test_an_engine_exercise_runs_check_engine_on_the_learners_class() -> None:
    class OnlyAdds:
        def __init__(self, data: float) -> None:
            self.data, self.grad = data, 0.0

        def __add__(self, other: Any) -> Any:
            return OnlyAdds(self.data + other.data)

        def backward(self) -> None:
            self.grad = 1.0

    assert "your class cannot do exp" in check("03.1", OnlyAdds).message

    class WrongExp(SolutionValue):
        def exp(self) -> SolutionValue:
            out = SolutionValue(math.exp(self.data), (self,))
            out.local_derivatives = (self.data,)  # planted: x instead of e^x
            return out

    feedback = check("03.1", WrongExp)
    assert feedback.message.startswith("check_engine finds problems in: gradients.")
    assert "Print check_engine(WrongExp)" in feedback.message
    feedback = check("03.2", int)
    assert not feedback and "cannot do -" in feedback.message


def test_an_unknown_id_is_a_key_error_that_shows_the_form() -> None:
    with pytest.raises(KeyError, match=r"ids look like '03\.2'"):
        check("3.2", 1.0)
    with pytest.raises(KeyError, match=r"no exercise '99\.1'"):
        solution("99.1")


def test_a_number_that_is_not_finite_is_told_so() -> None:
    for answer in (math.nan, math.inf):
        assert "not a finite number" in check("01.1", answer).message
    assert "not a finite number" in check("09.3", lambda x: math.nan).message
