"""The Value engine: construction, operators, domain errors, backward, grad, no_grad."""

from __future__ import annotations

import gc
import math
import sys
import threading
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Value, detect_anomaly, engine, grad, no_grad
from tinygrad_edu.engine import local_derivatives, topological_order
from tinygrad_edu.ops import OPS

# ---- construction -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [(3, 3.0), (2.5, 2.5), (True, 1.0), (np.float32(0.5), 0.5), (np.int64(-4), -4.0),
     (np.bool_(True), 1.0), (Fraction(1, 4), 0.25)],
)  # fmt: skip
def test_value_stores_real_numbers_as_python_floats(data: object, expected: float) -> None:
    v = Value(data)
    assert type(v.data) is float and v.data == expected
    assert type(v.grad) is float and v.grad == 0.0
    assert v.label == "" and v.op == "" and v.inputs == ()


@pytest.mark.parametrize(
    ("data", "type_name"),
    [("1.0", "str"), (None, "NoneType"), (1j, "complex"), ([1.0], "list"), (Value(1.0), "Value"),
     (np.array([1.0, 2.0]), "ndarray"), (np.complex128(1), "complex128")],
)  # fmt: skip
def test_value_rejects_anything_else_naming_the_type(data: object, type_name: str) -> None:
    with pytest.raises(TypeError, match=type_name):
        Value(data)


def test_repr_shows_data_grad_and_label() -> None:
    v = Value(2.0, label="x")
    v.grad = -1.5
    assert repr(v) == "Value(data=2.0, grad=-1.5, label='x')"
    assert float(v) == 2.0


def test_ordering_compares_data_with_values_and_real_numbers_only() -> None:
    assert Value(1.0) < Value(2.0) and Value(1.0) <= 1 and Value(3.0) > 2.5
    assert 3 >= Value(3.0)  # noqa: SIM300 -- the reflected comparison is the point
    assert max(Value(1.0), Value(4.0), key=float).data == 4.0
    for other in ("3", None, [1.0]):
        with pytest.raises(TypeError, match="not supported"):
            _ = Value(1.0) < other  # type: ignore[operator]


def test_values_hash_by_identity_and_never_compare_equal_by_data() -> None:
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b, a}) == 2


# ---- operators --------------------------------------------------------------------------

BINARY: dict[str, Callable[[object, object], Value]] = {
    "+": lambda a, b: a + b,  # type: ignore[operator]
    "-": lambda a, b: a - b,  # type: ignore[operator]
    "*": lambda a, b: a * b,  # type: ignore[operator]
    "/": lambda a, b: a / b,  # type: ignore[operator]
    "**": lambda a, b: a**b,  # type: ignore[operator]
}


@pytest.mark.parametrize("op", sorted(BINARY))
def test_operators_take_a_value_or_a_number_on_either_side(op: str) -> None:
    a = Value(3.0, label="a")
    expected = {"+": 5.0, "-": 1.0, "*": 6.0, "/": 1.5, "**": 9.0}[op]
    reflected = {"+": 5.0, "-": -1.0, "*": 6.0, "/": 2 / 3, "**": 8.0}[op]
    for result in (BINARY[op](a, 2.0), BINARY[op](a, Value(2.0)), BINARY[op](a, 2)):
        assert result.op == op and result.data == pytest.approx(expected)
        assert result.inputs[0] is a and result.inputs[1].data == 2.0  # argument order kept
    result = BINARY[op](2.0, a)
    assert result.data == pytest.approx(reflected)
    assert result.inputs[1] is a and result.inputs[0].data == 2.0
    assert not result.inputs[0].requires_grad  # a plain number becomes a constant leaf


def test_unary_operators_and_methods() -> None:
    x = Value(0.5)
    assert (-x).op == "neg" and (-x).data == -0.5
    assert abs(Value(-2.0)).data == 2.0
    for name in ("exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "sqrt"):
        y = getattr(x, name)()
        assert y.op == name and y.inputs == (x,)


def test_a_repeated_input_is_kept_twice() -> None:
    a = Value(3.0)
    assert (a + a).inputs == (a, a)


def test_unsupported_operand_types_raise_type_error() -> None:
    with pytest.raises(TypeError, match="str"):
        Value(1.0) + "2"  # type: ignore[operator]
    with pytest.raises(TypeError, match="NoneType"):
        None * Value(1.0)  # type: ignore[operator]


def test_sum_is_one_node_with_every_term_as_input() -> None:
    a, b = Value(1.0), Value(2.0)
    total = Value.sum([a, b, 3.5, a])
    assert total.op == "sum" and total.data == 7.5 and len(total.inputs) == 4
    total.backward()
    assert (a.grad, b.grad) == (2.0, 1.0)
    assert Value.sum([]).data == 0.0
    with pytest.raises(TypeError, match="str"):
        Value.sum([a, "b"])  # type: ignore[list-item]


# ---- domain errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: Value(0.0).log(), ValueError, ["log", "0.0"]),
        (lambda: Value(-1.5).log(), ValueError, ["log", "-1.5"]),
        (lambda: Value(-4.0).sqrt(), ValueError, ["sqrt", "-4.0"]),
        (lambda: Value(1.0) / 0, ZeroDivisionError, ["division", "1.0 / 0.0"]),
        (lambda: 2.0 / Value(0.0), ZeroDivisionError, ["division", "2.0 / 0.0"]),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, ["0.0 ** -1.0"]),
        (lambda: Value(-8.0) ** (1 / 3), ValueError, ["-8.0 **", "integer exponent"]),
        (lambda: Value(1000.0).exp(), OverflowError, ["exp", "1000.0"]),
        (lambda: Value(10.0) ** 400, OverflowError, ["10.0 ** 400.0"]),
        (lambda: Value(1e300) * 1e300, OverflowError, ["1e+300 * 1e+300", "overflows"]),
        (lambda: Value(1e308) + 1e308, OverflowError, ["1e+308 + 1e+308", "overflows"]),
        (lambda: -1e308 - Value(1e308), OverflowError, ["-1e+308 - 1e+308", "overflows"]),
        (lambda: Value(1e300) / 1e-300, OverflowError, ["1e+300 / 1e-300", "overflows"]),
        (lambda: Value.sum([Value(1e308), 1e308]), OverflowError, ["sum of 2", "1e+308"]),
    ],
)
def test_domain_errors_are_loud_and_name_the_operation_and_value(
    make: Callable[[], Value], error: type[Exception], words: list[str]
) -> None:
    with pytest.raises(error) as raised:
        make()
    for word in words:
        assert word in str(raised.value)


def test_zero_to_the_zero_has_zero_derivatives_as_in_pytorch() -> None:
    a, b = Value(0.0), Value(0.0)
    y = a**b
    y.backward()
    assert (y.data, a.grad, b.grad) == (1.0, 0.0, 0.0)


def test_negative_base_with_integer_exponent_is_fine() -> None:
    x = Value(-2.0)
    y = x**3
    y.backward()
    assert (y.data, x.grad) == (-8.0, 12.0)


def test_no_derivative_in_the_exponent_for_a_negative_base() -> None:
    a, b = Value(-2.0), Value(2.0)
    y = a**b
    assert y.data == 4.0
    with pytest.raises(ValueError, match=r"\*\*.*exponent"):
        y.backward()


def test_a_derivative_that_divides_by_zero_says_where() -> None:
    y = Value(0.0, label="x").sqrt()
    with pytest.raises(ZeroDivisionError, match="sqrt"):
        y.backward()


@given(st.floats(-1e6, 1e6))
def test_tanh_and_sigmoid_are_stable_for_any_finite_input(x: float) -> None:
    t, s = Value(x).tanh(), Value(x).sigmoid()
    assert -1.0 <= t.data <= 1.0 and 0.0 <= s.data <= 1.0
    assert math.isfinite(t.data) and math.isfinite(s.data)


def test_sigmoid_limits_are_exact() -> None:
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0


# ---- backward -----------------------------------------------------------------------------


def tanh_neuron() -> tuple[Value, dict[str, Value]]:
    """The classic neuron: o = tanh(x1*w1 + x2*w2 + b)."""
    v = {
        "x1": Value(2.0, "x1"), "x2": Value(0.0, "x2"), "w1": Value(-3.0, "w1"),
        "w2": Value(1.0, "w2"), "b": Value(6.8813735870195432, "b"),
    }  # fmt: skip
    o = (v["x1"] * v["w1"] + v["x2"] * v["w2"] + v["b"]).tanh()
    return o, v


def test_backward_on_a_tanh_neuron_matches_the_hand_derivation() -> None:
    o, v = tanh_neuron()
    o.backward()
    assert o.data == pytest.approx(math.sqrt(0.5))
    # do/dn = 1 - o^2 = 0.5, then each product passes 0.5 times the other factor.
    assert v["x1"].grad == pytest.approx(0.5 * -3.0)
    assert v["w1"].grad == pytest.approx(0.5 * 2.0)
    assert v["x2"].grad == pytest.approx(0.5 * 1.0)
    assert v["w2"].grad == pytest.approx(0.0)
    assert v["b"].grad == pytest.approx(0.5)


def test_shared_subexpressions_receive_the_sum_of_all_paths() -> None:
    a = Value(3.0)
    b = a * a  # two edges into one node
    c = b + b.tanh() + a  # a diamond through b, plus a direct edge
    c.backward()
    db = 1.0 + (1.0 - math.tanh(9.0) ** 2)
    assert b.grad == pytest.approx(db)
    assert a.grad == pytest.approx(db * 2 * 3.0 + 1.0)


def test_backward_twice_accumulates_into_leaves_only() -> None:
    x, w = Value(2.0), Value(-3.0)
    hidden = x * w
    y = hidden.tanh()
    y.backward()
    first = (x.grad, w.grad, hidden.grad, y.grad)
    y.backward()
    assert (x.grad, w.grad) == (2 * first[0], 2 * first[1])
    assert (hidden.grad, y.grad) == (first[2], first[3])


def test_backward_takes_a_seed_gradient() -> None:
    x = Value(2.0)
    (x * x).backward(gradient=0.5)
    assert x.grad == 2.0


def test_backward_on_a_leaf_accumulates_one() -> None:
    x = Value(2.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_constants_get_no_gradient() -> None:
    x = Value(2.0)
    y = x * 3.0
    y.backward()
    constant = y.inputs[1]
    assert not constant.requires_grad and constant.grad == 0.0
    assert constant not in topological_order(y)


def test_a_number_is_one_shared_read_only_constant_leaf() -> None:
    x, y = Value(1.5), Value(-2.0)
    first, second, third = x * 2.0, 2 * y, x ** np.float64(2.0)
    shared = first.inputs[1]
    assert second.inputs[0] is shared and third.inputs[1] is shared
    assert isinstance(shared, Value) and shared.data == 2.0 and not shared.requires_grad
    for name, value in [("data", 3.0), ("grad", 1.0), ("label", "two")]:
        with pytest.raises(AttributeError, match="shared by every expression"):
            setattr(shared, name, value)
    assert (first.data, second.data, third.data) == (3.0, -4.0, 2.25)
    own = Value(2.0, requires_grad=False)  # a constant the user makes stays their own
    own.data = 5.0
    assert (x * own).data == 7.5 and (x * 2.0).inputs[1] is shared


def test_zeros_are_never_shared_so_the_sign_of_zero_survives() -> None:
    x = Value(1.0)
    assert math.copysign(1.0, (x * -0.0).data) == -1.0
    assert math.copysign(1.0, (x * 0.0).data) == 1.0
    assert (x * 0.0).inputs[1] is not (x * 0.0).inputs[1]


def test_the_shared_constants_stay_bounded() -> None:
    x = Value(1.0)
    for i in range(3 * engine._MAX_SHARED_CONSTANTS):
        y = x * (1.0 + i / 7)
        assert y.data == 1.0 + i / 7
        assert len(engine._shared_constants) <= engine._MAX_SHARED_CONSTANTS


def test_a_chain_step_keeps_two_gc_tracked_objects_per_node() -> None:
    # The node and its inputs tuple; the constants 1.0001 and 0.5 are shared leaves.
    x = Value(1.0)
    y = x * 1.0001 + 0.5  # the shared constants exist before the count
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(1000):
        y = y * 1.0001 + 0.5
    assert len(gc.get_objects()) - before == pytest.approx(2 * 2000, abs=50)


def test_backward_through_constants_only_is_refused() -> None:
    with no_grad():
        y = Value(2.0) * 3.0
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_a_million_node_chain_at_the_default_recursion_limit() -> None:
    limit = sys.getrecursionlimit()
    x = Value(1.0)
    y = x
    for _ in range(500_000):  # two nodes per step
        y = y * 1.0001 + 0.5
    y.backward()
    assert len(topological_order(y)) == 1_000_001
    assert sys.getrecursionlimit() == limit
    assert x.grad == pytest.approx(1.0001**500_000, rel=1e-9)


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_backward_gives_exactly_the_table_partials_for_every_op(
    name: str, data: st.DataObject
) -> None:
    # The backward loop has its own branches (by arity, and products inlined); each must
    # produce the table's local derivative times the seed, to the last bit. Each input may
    # be a constant (no gradient), and one Value may be every input at once (a * a).
    op = OPS[name]
    args = data.draw(st.tuples(*(st.floats(low, high) for low, high in op.domain)))
    seed = data.draw(st.floats(-2.0, 2.0))
    needs_grad = data.draw(st.lists(st.booleans(), min_size=len(args), max_size=len(args)))
    if not any(needs_grad):
        needs_grad[0] = True  # backward needs something below the node to reach
    inputs = [Value(a, requires_grad=r) for a, r in zip(args, needs_grad, strict=True)]
    if data.draw(st.booleans()):  # the same node in every position, inside every domain
        shared = data.draw(st.floats(max(d[0] for d in op.domain), min(d[1] for d in op.domain)))
        inputs = [Value(shared)] * len(inputs)
    if op.variadic:
        node = Value.sum(inputs)
    elif len(inputs) == 2:
        node = engine._binary(op, *inputs)
    else:
        node = engine._unary(op, inputs[0])
    node.backward(seed)
    expected: dict[Value, float] = {}
    for x, local in zip(inputs, local_derivatives(node), strict=True):
        if x.requires_grad:  # the engine sums a repeated input's contributions in order
            expected[x] = expected.get(x, 0.0) + seed * local
    assert {x: x.grad for x in inputs if x.requires_grad} == expected
    assert all(x.grad == 0.0 for x in inputs if not x.requires_grad)


def test_local_derivatives_are_the_numbers_the_chain_rule_uses() -> None:
    a, b = Value(2.0), Value(-3.0)
    assert local_derivatives(a * b) == [-3.0, 2.0]
    assert local_derivatives(a - b) == [1.0, -1.0]
    assert local_derivatives(a) == []


# ---- no_grad --------------------------------------------------------------------------------


def test_no_grad_records_no_inputs_and_nests() -> None:
    x = Value(2.0)
    with no_grad():
        y = x * 3.0
        with no_grad():
            z = y.tanh()
        w = x + 1.0
    after = x * 3.0
    for node in (y, z, w):
        assert node.inputs == () and node.op == "" and not node.requires_grad
    assert after.inputs[0] is x


def test_one_no_grad_object_can_be_entered_again_and_nested() -> None:
    x = Value(2.0)
    off = no_grad()
    with off:
        with off:
            inner = x * 3.0
        outer = x * 3.0
    with off:
        again = x * 3.0
    after = x * 3.0
    assert inner.inputs == outer.inputs == again.inputs == ()
    assert after.inputs[0] is x


def test_no_grad_works_as_a_decorator() -> None:
    @no_grad()
    def double(x: Value) -> Value:
        return x * 2.0

    x = Value(1.0)
    assert double(x).inputs == ()
    assert (x * 2.0).inputs[0] is x  # recording is back on after the call


def test_no_grad_is_per_thread() -> None:
    inside = threading.Event()
    done = threading.Event()
    recorded: list[Value] = []

    def other_thread() -> None:
        inside.wait()
        recorded.append(Value(2.0) * 3.0)
        done.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with no_grad():
        inside.set()
        done.wait(timeout=10)
    thread.join()
    assert len(recorded[0].inputs) == 2


def test_threads_sorting_one_shared_graph_each_get_every_node_once() -> None:
    # Sorting keeps no state on the nodes, so threads sharing a graph cannot mix walks.
    xs = [Value(0.1 * i) for i in range(20)]
    layer = xs
    for _ in range(4):  # every node of a layer reads every node of the one below
        layer = [Value.sum([w * (i + 1) for i, w in enumerate(layer)]).tanh() for _ in range(20)]
    loss = Value.sum(layer)
    expected = topological_order(loss)
    orders: list[list[Value]] = []

    def work() -> None:
        for _ in range(100):
            orders.append(topological_order(loss))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(orders) == 200
    assert all(order == expected for order in orders)


# ---- grad() -----------------------------------------------------------------------------------


def test_grad_leaves_every_grad_untouched() -> None:
    x, w = Value(2.0), Value(-3.0)
    y = (x * w).tanh()
    gx, gw = grad(y, [x, w])
    assert gx.data == pytest.approx((1 - y.data**2) * -3.0)
    assert gw.data == pytest.approx((1 - y.data**2) * 2.0)
    assert (x.grad, w.grad, y.grad) == (0.0, 0.0, 0.0)


def test_grad_of_an_unconnected_input_is_zero() -> None:
    x, unused = Value(2.0), Value(5.0)
    (g,) = grad(x * x, [unused])
    assert g.data == 0.0


def test_second_and_third_derivatives() -> None:
    x = Value(1.5)
    y = x**3 + x.sin()
    (dy,) = grad(y, [x], create_graph=True)
    (d2y,) = grad(dy, [x], create_graph=True)
    (d3y,) = grad(d2y, [x], create_graph=True)
    assert dy.data == pytest.approx(3 * 1.5**2 + math.cos(1.5))
    assert d2y.data == pytest.approx(6 * 1.5 - math.sin(1.5))
    assert d3y.data == pytest.approx(6 - math.cos(1.5))


@given(st.floats(0.3, 3.0), st.floats(-2.0, 2.0))
def test_second_derivatives_of_every_unary_op(x: float, y: float) -> None:
    cases: dict[str, tuple[Callable[[Value], Value], float]] = {
        "exp": (lambda v: v.exp(), math.exp(y)),
        "log": (lambda v: v.log(), -1 / x**2),
        "tanh": (lambda v: v.tanh(), -2 * math.tanh(y) * (1 - math.tanh(y) ** 2)),
        "sigmoid": (
            lambda v: v.sigmoid(),
            (s := 1 / (1 + math.exp(-y))) * (1 - s) * (1 - 2 * s),
        ),
        "sin": (lambda v: v.sin(), -math.sin(y)),
        "cos": (lambda v: v.cos(), -math.cos(y)),
        "sqrt": (lambda v: v.sqrt(), -0.25 * x**-1.5),
        "pow": (lambda v: v**2.5, 2.5 * 1.5 * x**0.5),
        "rdiv": (lambda v: 1 / v, 2 / x**3),
    }
    for name, (f, expected) in cases.items():
        point = Value(x if name in ("log", "sqrt", "pow", "rdiv") else y)
        (first,) = grad(f(point), [point], create_graph=True)
        (second,) = grad(first, [point])
        assert second.data == pytest.approx(expected, rel=1e-9, abs=1e-12), name


def test_hessian_vector_product() -> None:
    x, y = Value(1.0), Value(2.0)
    f = x * x * y + y**3  # H = [[2y, 2x], [2x, 6y]]
    gx, gy = grad(f, [x, y], create_graph=True)
    v = (0.5, -1.0)
    hv = grad(gx * v[0] + gy * v[1], [x, y])
    assert [h.data for h in hv] == pytest.approx(
        [2 * 2.0 * 0.5 + 2 * 1.0 * -1.0, 2 * 1.0 * 0.5 + 12.0 * -1.0]
    )


def test_grad_with_respect_to_a_value_exponent() -> None:
    a, b = Value(2.0), Value(3.0)
    ga, gb = grad(a**b, [a, b])
    assert ga.data == pytest.approx(12.0)
    assert gb.data == pytest.approx(8.0 * math.log(2.0))


def test_grad_rejects_non_values() -> None:
    with pytest.raises(TypeError, match="float"):
        grad(Value(1.0), [1.0])  # type: ignore[list-item]


# ---- detect_anomaly ----------------------------------------------------------------------------


def test_detect_anomaly_names_the_op_and_label() -> None:
    x = Value(1.0)
    big = x * 1e200
    big.label = "big"
    y = big * 1e100  # 1e300 is finite, but with the seed 1e10, d y / d x = 1e310 is not:
    with pytest.raises(OverflowError, match=r"'\*' \(node 'big'"):  # PyTorch: a silent inf
        y.backward(1e10)
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"'\*' \(node 'big'"):
        y.backward(1e10)


def test_detect_anomaly_reports_an_infinite_local_derivative() -> None:
    # sqrt'(0) = 0.5 / 0: PyTorch makes inf there, which detect_anomaly must report.
    y = Value(0.0).sqrt()
    y.label = "root"
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"'sqrt' \(node 'root'"):
        y.backward()


def test_detect_anomaly_is_quiet_when_everything_is_finite() -> None:
    x = Value(0.5)
    with detect_anomaly():
        x.tanh().backward()
    assert x.grad == pytest.approx(1 - math.tanh(0.5) ** 2)
