"""Scoring is a pure function of the checklist and the answers."""

from __future__ import annotations

from fractions import Fraction

import pytest

from dialogs.content import Content
from dialogs.scoring import band_for, score


def _all(content: Content, value: int | None) -> dict[str, int | None]:
    return {criterion.code: value for criterion in content.latest.criteria}


def test_all_not_applicable_has_no_overall_score(content: Content) -> None:
    result = score(content.latest, _all(content, None))
    assert result.overall is None
    assert result.band is None
    assert result.scored == 0
    assert result.not_applicable == 10
    assert result.strongest == result.weakest == ()


def test_nothing_answered_counts_every_criterion_unanswered(content: Content) -> None:
    result = score(content.latest, {})
    assert result.unanswered == 10
    assert result.overall is None


def test_not_applicable_is_left_out_of_the_denominator(content: Content) -> None:
    answers = _all(content, None) | {"C01": 3, "C02": 1}
    result = score(content.latest, answers)
    assert result.overall == Fraction(4, 6)
    assert result.scored == 2
    assert result.not_applicable == 8


def test_full_marks_is_the_top_band_and_no_criterion_stands_out(content: Content) -> None:
    result = score(content.latest, _all(content, 3))
    assert result.percent == 100
    assert result.band == content.latest.bands[-1]
    assert result.weakest == result.strongest == ()


def test_zero_everywhere_is_the_lowest_band_and_no_criterion_stands_out(
    content: Content,
) -> None:
    result = score(content.latest, _all(content, 0))
    assert result.percent == 0
    assert result.band == content.latest.bands[0]
    assert result.strongest == result.weakest == ()


def test_one_weak_criterion_among_equal_ones_is_the_only_one_to_work_on(
    content: Content,
) -> None:
    result = score(content.latest, _all(content, 2) | {"C06": 0})
    assert result.weakest == ("C06",)
    assert result.strongest == ("C01", "C02", "C03")


@pytest.mark.parametrize("band_index", [1, 2, 3])
def test_a_score_exactly_on_a_threshold_reaches_that_band(
    content: Content, band_index: int
) -> None:
    bands = content.latest.bands
    threshold = Fraction(bands[band_index].min_percent, 100)
    assert band_for(content.latest, threshold) == bands[band_index]
    assert band_for(content.latest, threshold - Fraction(1, 10**6)) == bands[band_index - 1]


def test_forty_percent_from_real_answers_is_not_lost_to_rounding(content: Content) -> None:
    # 2 + 2 + 1 + 1 + 0 of 15 points is exactly 40 percent.
    answers: dict[str, int | None] = {"C01": 2, "C02": 2, "C03": 1, "C04": 1, "C05": 0}
    result = score(content.latest, answers)
    assert result.overall == Fraction(2, 5)
    assert result.band == band_for(content.latest, Fraction(40, 100))


def test_strongest_and_weakest_follow_the_values_then_checklist_order(content: Content) -> None:
    answers: dict[str, int | None] = {
        "C01": 1, "C02": 3, "C03": 0, "C04": 2, "C05": 3,
        "C06": 1, "C07": None, "C08": 2, "C09": 0, "C10": 3,
    }  # fmt: skip
    result = score(content.latest, answers)
    assert result.strongest == ("C02", "C05", "C10")
    assert result.weakest == ("C03", "C09", "C01")
    assert result.overall == Fraction(15, 27)


def test_no_level_is_both_among_the_strongest_and_the_criteria_to_work_on(
    content: Content,
) -> None:
    # One "Fully", one "Not at all", the rest "Largely": three "Largely" criteria would be
    # both as strong as a listed strength and listed to work on.
    answers = _all(content, 2) | {"C01": 3, "C10": 0}
    result = score(content.latest, answers)
    assert result.strongest == ("C01", "C02", "C03")
    assert result.weakest == ("C10",)
