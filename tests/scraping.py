"""Reading a /metrics answer in tests: prometheus_client's own parser, one value per sample and label set."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True)
class Scrape:
    """Every sample of one scrape."""

    samples: Samples
    families: frozenset[str]  # every metric declared, with or without samples yet

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples: Samples = {}
        families = set()
        for family in text_string_to_metric_families(text):
            families.add(family.name)
            for sample in family.samples:
                samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return cls(samples, frozenset(families))

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels (0 when absent: a counter never incremented)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of `name` whose labels include these (e.g. a histogram's _count by route)."""
        wanted = set(labels.items())
        return sum(value for (found, labelled), value in self.samples.items() if found == name and wanted <= labelled)

    def names(self) -> set[str]:
        return {name for name, _labels in self.samples}

    def label_values(self) -> set[str]:
        return {value for _name, labelled in self.samples for _label, value in labelled}


def delta(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    """How much a counter (or a total) grew between two scrapes (metrics are per process; tests share it)."""
    return after.total(name, **labels) - before.total(name, **labels)
