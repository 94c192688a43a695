"""ICD-10 coding rules of Decision 4469/QĐ-BYT, kept as data and checked by pure code.

- A4.1 / A4.2: codes valid only for female / male patients;
- A3.1-A3.10: codes valid only within an age range (bounds in days ``d`` or completed years ``a``);
- A2 (and E1, the same list grouped as DRG U1): codes never used as the main diagnosis;
- A1: dagger (†) / asterisk (*) pairs that always go together, so an asterisk code needs its dagger.

Rule tables list undotted codes; a rule on a category ("O96") also covers its sub-codes ("O96.0").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

__all__ = ["AgeBound", "AgeRule", "Icd10Rules", "RuleViolation", "Sex", "completed_years"]

Sex = Literal["male", "female", "other", "unknown"]  # FHIR R4 administrative-gender
SOURCE = "QĐ 4469/QĐ-BYT"


def completed_years(age_days: int) -> int:
    """Completed years of a person ``age_days`` old (mean Gregorian year; exact within a day)."""
    return age_days * 10000 // 3652425


def _candidates(key: str) -> tuple[str, ...]:
    """The code and its parent category codes, most specific first ("O960" → O960, O96)."""
    return tuple(dict.fromkeys(key[:n] for n in range(len(key), 2, -1)))


@dataclass(frozen=True, slots=True)
class AgeBound:
    value: int
    unit: Literal["d", "a"]  # UCUM: d = day, a = year
    inclusive: bool

    def measure(self, age_days: int) -> int:
        return age_days if self.unit == "d" else completed_years(age_days)

    def describe(self, lang: Literal["vi", "en"]) -> str:
        if lang == "vi":
            return f"{self.value} {'ngày' if self.unit == 'd' else 'tuổi'}"
        unit = "day" if self.unit == "d" else "year"
        return f"{self.value} {unit}{'' if self.value == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class AgeRule:
    appendix: str
    title: str
    min: AgeBound | None
    max: AgeBound | None
    codes: frozenset[str]

    def admits(self, age_days: int) -> bool:
        low, high = self.min, self.max
        if low is not None:
            age = low.measure(age_days)
            if age < low.value or (age == low.value and not low.inclusive):
                return False
        if high is not None:
            age = high.measure(age_days)
            if age > high.value or (age == high.value and not high.inclusive):
                return False
        return True

    def describe(self, lang: Literal["vi", "en"]) -> str:
        low, high = self.min, self.max
        if low is not None and high is not None:
            return f"{low.describe(lang)} – {high.describe(lang)}"
        if low is not None:
            if lang == "vi":
                return f"{'từ' if low.inclusive else 'trên'} {low.describe(lang)}"
            return f"{'at least' if low.inclusive else 'over'} {low.describe(lang)}"
        assert high is not None
        return f"{'đến' if lang == 'vi' else 'up to'} {high.describe(lang)}"


@dataclass(frozen=True, slots=True)
class RuleViolation:
    """One broken rule; ``rule`` is stable: sex, age, not-main, asterisk-without-dagger, unknown-code."""

    rule: str
    code: str
    message_vi: str
    message_en: str
    source: str
    severity: Literal["error", "warning"] = "error"


def _bound(raw: Sequence[Any] | None) -> AgeBound | None:
    if raw is None:
        return None
    value, unit, inclusive = raw
    if unit not in ("d", "a"):
        raise ValueError(f"unknown age unit {unit!r}")
    return AgeBound(int(value), unit, bool(inclusive))


@dataclass(frozen=True)
class Icd10Rules:
    female_only: frozenset[str]
    male_only: frozenset[str]
    age: tuple[AgeRule, ...]
    not_main: Mapping[str, str]  # code -> appendix that forbids it as main diagnosis
    asterisk: frozenset[str]
    daggers_for: Mapping[str, frozenset[str]]  # asterisk code -> its dagger codes (A1)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Icd10Rules:
        not_main: dict[str, str] = {}
        for appendix in ("E1", "A2"):  # A2 wins: it is the rule text, E1 the DRG grouping
            not_main.update(dict.fromkeys(raw["not_main"].get(appendix, []), appendix))
        daggers: dict[str, set[str]] = {}
        for dagger, asterisk in raw["dagger_asterisk_pairs"]:
            daggers.setdefault(asterisk, set()).add(dagger)
        age = tuple(
            AgeRule(t["appendix"], t["title"], _bound(t["min"]), _bound(t["max"]), frozenset(t["codes"]))
            for t in raw["age"]
        )
        return cls(
            female_only=frozenset(raw["sex"]["female"]),
            male_only=frozenset(raw["sex"]["male"]),
            age=age,
            not_main=not_main,
            asterisk=frozenset(raw["asterisk"]) | frozenset(daggers),
            daggers_for={k: frozenset(v) for k, v in daggers.items()},
        )

    def close_over_categories(self, children: Mapping[str, Sequence[str]]) -> Icd10Rules:
        """Extend every rule to the categories all of whose sub-codes it lists.

        The appendices list leaf codes ("O800" … "O809" are female-only) but not always their category
        ("O80"), which clinicians also code; a category whose every sub-code is restricted is restricted.
        """

        def close(codes: frozenset[str]) -> frozenset[str]:
            extra = {cat for cat, kids in children.items() if kids and all(k in codes for k in kids)}
            return codes | extra

        not_main = dict(self.not_main)
        for cat, kids in children.items():
            if cat not in not_main and kids and all(k in self.not_main for k in kids):
                not_main[cat] = self.not_main[kids[0]]
        return replace(
            self,
            female_only=close(self.female_only),
            male_only=close(self.male_only),
            age=tuple(replace(rule, codes=close(rule.codes)) for rule in self.age),
            not_main=not_main,
        )

    def _hit(self, key: str, codes: frozenset[str] | Mapping[str, str]) -> str | None:
        return next((c for c in _candidates(key) if c in codes), None)

    def check_sex(self, key: str, code: str, sex: Sex | None) -> list[RuleViolation]:
        if sex == "male" and self._hit(key, self.female_only):
            return [_violation("sex", code, "A4.1", "chỉ dùng cho người bệnh nữ", "is valid for female patients only")]
        if sex == "female" and self._hit(key, self.male_only):
            return [_violation("sex", code, "A4.2", "chỉ dùng cho người bệnh nam", "is valid for male patients only")]
        return []

    def check_age(self, key: str, code: str, age_days: int | None) -> list[RuleViolation]:
        if age_days is None:
            return []
        return [
            _violation(
                "age", code, r.appendix, f"chỉ phù hợp tuổi {r.describe('vi')}", f"is valid for age {r.describe('en')}"
            )
            for r in self.age
            if self._hit(key, r.codes) and not r.admits(age_days)
        ]

    def check_main(self, key: str, code: str) -> list[RuleViolation]:
        hit = self._hit(key, self.not_main)
        if hit is None:
            return []
        appendix = self.not_main[hit]
        return [
            _violation("not-main", code, appendix, "không được dùng làm bệnh chính", "may not be the main diagnosis")
        ]

    def is_asterisk(self, key: str) -> bool:
        return self._hit(key, self.asterisk) is not None

    def check_dagger(
        self, key: str, code: str, marked: bool, other_keys: Iterable[tuple[str, bool]]
    ) -> list[RuleViolation]:
        """An asterisk code needs its A1 dagger (or, without an A1 pair, any dagger code) beside it.

        ``marked`` says the code list marks the code with *; ``other_keys`` are the other diagnoses as
        (undotted code, is marked †).
        """
        hit = self._hit(key, self.asterisk)
        if hit is None and not marked:
            return []
        wanted = self.daggers_for.get(hit) if hit else None
        for other, is_dagger in other_keys:
            if (wanted and any(c in wanted for c in _candidates(other))) or (not wanted and is_dagger):
                return []
        return [
            _violation(
                "asterisk-without-dagger",
                code,
                "A1",
                "là mã (*) phải đi kèm mã (†) tương ứng",
                "is an asterisk (*) code and needs its dagger (†) code",
            )
        ]


def _violation(rule: str, code: str, appendix: str, vi: str, en: str) -> RuleViolation:
    return RuleViolation(
        rule=rule,
        code=code,
        message_vi=f"Mã {code} {vi} ({SOURCE} Phụ lục {appendix}).",
        message_en=f"Code {code} {en} (Decision 4469 Appendix {appendix}).",
        source=f"{SOURCE} Phụ lục {appendix}",
    )
