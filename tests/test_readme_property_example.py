"""The README's property-test example, verbatim (test_strategies.py checks they agree)."""

from hypothesis import given

from tinygrad_edu.gradcheck import gradcheck
from tinygrad_edu.testing.strategies import expressions


def softplus(x):  # your own function, built from Value operations
    return (1 + x.exp()).log()


@given(expressions(n_vars=2))
def test_softplus_of_random_expressions(drawn):
    expression, xs = drawn
    assert gradcheck(lambda *v: softplus(expression(*v)), xs)
