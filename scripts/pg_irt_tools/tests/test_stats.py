"""The benchmark's medians and quantiles."""
import pytest

from pg_irt_tools.stats import median, quantile


def test_the_median_of_an_odd_count_is_the_middle_value():
    assert median([3.0, 1.0, 2.0]) == 2.0


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5


def test_quantiles_are_order_statistics_at_the_nearest_rank():
    values = [float(v) for v in range(1, 21)]  # 1 … 20
    assert quantile(values, 0.0) == 1.0
    assert quantile(values, 0.5) == 11.0       # rank floor(0.5 · 19 + 1.5) = 11
    assert quantile(values, 0.9) == 18.0       # rank floor(0.9 · 19 + 1.5) = 18
    assert quantile(values, 1.0) == 20.0


def test_no_values_or_a_level_outside_the_unit_interval_is_an_error():
    with pytest.raises(ValueError):
        median([])
    with pytest.raises(ValueError):
        quantile([1.0], 1.5)
