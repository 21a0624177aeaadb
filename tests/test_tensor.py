"""The Tensor engine's behaviour: construction, broadcasting, backward, grad, grad mode, errors."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import Value, no_grad
from tinygrad_edu.tensor import Tensor, grad
from tinygrad_edu.tensor.engine import unbroadcast


def test_a_tensor_holds_a_float64_copy_and_zero_grad() -> None:
    source = np.array([[1, 2], [3, 4]])
    t = Tensor(source, label="x")
    source[0, 0] = 99
    assert t.data.dtype == np.float64 and t.data[0, 0] == 1.0
    assert t.shape == (2, 2) and t.grad.shape == (2, 2) and not t.grad.any()
    assert (t.inputs, t.op, t.label) == ((), "", "x")


@pytest.mark.parametrize("bad", ["abc", None, [1j], [[1.0], [Value(2.0)]], Value(1.0)])
def test_data_that_is_not_real_numbers_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="real numbers"):
        Tensor(bad)


def test_non_finite_data_is_refused_naming_count_and_first_index() -> None:
    with pytest.raises(ValueError, match=r"2 of 4 entries NaN or inf \(first at index \(0, 1\)\)"):
        Tensor([[1.0, np.nan], [np.inf, 2.0]])


def test_numbers_and_arrays_on_either_side_become_constants() -> None:
    x = Tensor([1.0, 2.0])
    for out in (x + 1, 1 + x, np.array([1.0, 1.0]) + x, x + np.array([1.0, 1.0])):
        np.testing.assert_array_equal(out.data, [2.0, 3.0])
        assert (
            out.op == "+"
            and len(out.inputs) == 2
            and not out.inputs[1 - out.inputs.index(x)].requires_grad
        )
    np.testing.assert_array_equal((2.0 - x).data, [1.0, 0.0])
    np.testing.assert_array_equal((2.0 / x).data, [2.0, 1.0])
    np.testing.assert_array_equal((2.0**x).data, [2.0, 4.0])
    np.testing.assert_array_equal((np.eye(2) @ x).data, [1.0, 2.0])


def test_an_unsupported_operand_gets_pythons_type_error() -> None:
    with pytest.raises(TypeError):
        Tensor([1.0]) + "a"  # type: ignore[operator]


def test_unbroadcast_sums_over_the_stretched_axes() -> None:
    g = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(unbroadcast(g, (3,)), [3.0, 5.0, 7.0])
    np.testing.assert_array_equal(unbroadcast(g, (2, 1)), [[3.0], [12.0]])
    assert unbroadcast(g, ()) == 15.0


def test_a_bias_added_to_every_row_gets_the_sum_over_the_batch() -> None:
    x = Tensor(np.ones((4, 3)), requires_grad=False)
    b = Tensor([0.5, -1.0, 2.0])
    (x + b).sum().backward()
    np.testing.assert_array_equal(b.grad, [4.0, 4.0, 4.0])


def test_matrix_delta_rule_reads_like_the_math() -> None:
    # gA = g @ B.T, gB = A.T @ g for out = A @ B and upstream gradient g.
    rng = np.random.default_rng(0)
    a, b, g = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(3, 2))
    ta, tb = Tensor(a), Tensor(b)
    (ta @ tb).backward(gradient=g)
    np.testing.assert_allclose(ta.grad, g @ b.T, rtol=1e-15)
    np.testing.assert_allclose(tb.grad, a.T @ g, rtol=1e-15)


def test_leaves_accumulate_across_backward_calls_interior_nodes_do_not() -> None:
    x = Tensor([1.0, 2.0])
    y = x * 3.0
    z = (y * y).sum()
    z.backward()
    z.backward()
    np.testing.assert_array_equal(x.grad, 2 * (2 * 3.0 * y.data))  # twice 18 x
    np.testing.assert_array_equal(y.grad, 2 * y.data)  # this call only


def test_a_reused_tensor_gets_the_sum_of_all_paths() -> None:
    x = Tensor([1.0, -2.0])
    ((x + x) * x).sum().backward()  # d(2x²)/dx = 4x
    np.testing.assert_array_equal(x.grad, [4.0, -8.0])


def test_a_deep_chain_needs_no_recursion() -> None:
    x = Tensor([1.0, 2.0])
    y = x
    for _ in range(20_000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_backward_of_a_non_scalar_needs_a_gradient_of_its_shape() -> None:
    y = Tensor([1.0, 2.0]) * 2.0
    with pytest.raises(ValueError, match=r"shape \(2,\) needs gradient="):
        y.backward()
    with pytest.raises(ValueError, match=r"gradient of shape \(3,\) for a tensor of shape \(2,\)"):
        y.backward(gradient=[1.0, 1.0, 1.0])
    y.backward(gradient=[1.0, 10.0])
    np.testing.assert_array_equal(y.inputs[0].grad, [2.0, 20.0])


def test_grad_returns_gradients_and_leaves_grad_untouched() -> None:
    x, unused = Tensor([1.0, 2.0, 3.0]), Tensor([[5.0]])
    gx, gu = grad((x * x).sum(), [x, unused])
    np.testing.assert_array_equal(gx.data, [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(gu.data, [[0.0]])
    assert not x.grad.any()


def test_one_no_grad_stops_both_engines() -> None:
    x, v = Tensor([1.0]), Value(1.0)
    with no_grad():
        t_out, v_out = x * 2.0, v * 2.0
    assert (t_out.inputs, t_out.requires_grad) == ((), False)
    assert (v_out.inputs, v_out.requires_grad) == ((), False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        t_out.sum().backward()
    assert (x * 2.0).requires_grad


def test_no_grad_is_per_thread() -> None:
    x = Tensor([1.0])
    seen: list[bool] = []
    with no_grad():
        worker = threading.Thread(target=lambda: seen.append((x * 2.0).requires_grad))
        worker.start()
        worker.join()
    assert seen == [True]


def test_log_of_non_positive_entries_names_how_many_and_the_first() -> None:
    with pytest.raises(
        ValueError, match=r"log.*2 of 4 entries invalid \(first at index \(0, 1\)\)"
    ):
        Tensor([[1.0, 0.0], [-3.0, 2.0]]).log()


@pytest.mark.parametrize(
    ("make", "error", "pattern"),
    [
        (lambda: Tensor([1.0, 800.0]).exp(), OverflowError, r"exp overflows.*1 of 2.*\(1,\)"),
        (lambda: Tensor([1.0]) / Tensor([0.0]), ZeroDivisionError, "division by zero"),
        (lambda: Tensor([-1.0, 4.0]).sqrt(), ValueError, r"sqrt.*1 of 2.*\(0,\)"),
        (lambda: Tensor([0.0]) ** -1.0, ZeroDivisionError, "negative power"),
        (lambda: Tensor([-2.0]) ** 0.5, ValueError, "integer exponent"),
        (lambda: Tensor([1e200]) * 1e200, OverflowError, r"\* overflows"),
        (lambda: Tensor([[1.0, 2.0]]) @ Tensor([[1.0, 2.0]]), ValueError, "do not match"),
    ],
)
def test_domain_errors_are_loud(make: object, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        make()  # type: ignore[operator]


def test_an_infinite_derivative_raises_in_backward_never_a_silent_inf() -> None:
    x = Tensor([4.0, 0.0])
    y = x.sqrt().sum()
    with pytest.raises(ZeroDivisionError, match=r"backward through 'sqrt'.*1 of 2 entries"):
        y.backward()


def test_an_overflowing_gradient_names_the_op_where_it_appeared() -> None:
    x = Tensor([1e200, 1.0], label="x")
    y = (x * 1e100).sin() * 1.0  # the inf appears in the last op's backward, not the first
    with pytest.raises(OverflowError, match=r"backward through '\*'.*1 of 2 entries not finite"):
        (x * 1e100).backward(gradient=[1e300, 1.0])
    with pytest.raises(OverflowError, match=r"backward through '\*'"):
        y.backward(gradient=[1e300, 1.0])


def test_sigmoid_and_softmax_are_stable_for_huge_inputs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exp(1000) overflowing inside sigmoid is no error
        np.testing.assert_array_equal(Tensor([-1000.0, 1000.0]).sigmoid().data, [0.0, 1.0])
    np.testing.assert_allclose(Tensor([1000.0, 1000.0]).softmax().data, [0.5, 0.5])
    np.testing.assert_allclose(Tensor([1000.0, 0.0]).log_softmax().data, [0.0, -1000.0])


def test_data_is_replaced_by_a_checked_update_a_kept_gradient_never_changes() -> None:
    p = Tensor([1.0, 2.0])
    before = p.data
    (p * p).sum().backward()
    kept = p.grad  # as momentum SGD keeps its first buffer
    p.data = p.data - 0.5 * p.grad
    p.grad = 0.0
    (p * 3.0).sum().backward()
    np.testing.assert_array_equal(before, [1.0, 2.0])  # a new array, the old one unchanged
    np.testing.assert_array_equal(p.data, [0.0, 0.0])
    np.testing.assert_array_equal(kept, [2.0, 4.0])
    np.testing.assert_array_equal(p.grad, [3.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        p.data = np.array([1.0, np.inf])
    with pytest.raises(ValueError, match="shape"):
        p.data = np.zeros(3)
    np.testing.assert_array_equal(p.data, [0.0, 0.0])


def test_an_in_place_overflow_is_refused_and_the_data_stays() -> None:
    p = Tensor([1e308, 1.0])
    with pytest.raises(ValueError, match="read-only"):
        p.data += 1e308  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        p.data[0] = np.inf
    np.testing.assert_array_equal(p.data, [1e308, 1.0])
    np.testing.assert_array_equal(p.tanh().data, np.tanh([1e308, 1.0]))  # never tanh(inf)
    p.grad = [1.0, 2.0]
    with pytest.raises(ValueError, match="read-only"):
        p.grad *= 1e308  # type: ignore[misc]
    np.testing.assert_array_equal(p.grad, [1.0, 2.0])
    y = p * 0.5
    y.sum().backward()
    for array in (y.data, y.grad, p.grad):  # interior nodes' arrays too
        with pytest.raises(ValueError, match="read-only"):
            array[0] = np.nan


def test_setting_a_reshape_or_transpose_never_changes_its_input_nor_the_reverse() -> None:
    a = Tensor([[1.0, 2.0], [3.0, 4.0]])
    for view in (a.T, a.reshape(4)):
        view.data = np.zeros(view.shape)
        np.testing.assert_array_equal(a.data, [[1.0, 2.0], [3.0, 4.0]])
    t = a.T
    a.data = np.zeros((2, 2))
    np.testing.assert_array_equal(t.data, [[1.0, 3.0], [2.0, 4.0]])  # made from the old a


def test_requires_grad_is_keyword_only_as_for_value() -> None:
    with pytest.raises(TypeError, match="positional"):
        Tensor([1.0], "x", False)  # type: ignore[misc]
    assert not Tensor([1.0], "x", requires_grad=False).requires_grad


def test_an_overflowing_leaf_gradient_raises_naming_the_leaf_and_changes_nothing() -> None:
    x, w = Tensor([0.5], label="x"), Tensor([2.0], label="w")
    y = (x * 1.7e308).sum() + (w * 1.0).sum()
    y.backward()
    with pytest.raises(OverflowError, match=r"\.grad of leaf 'x' \(shape \(1,\)\).*1 of 1"):
        y.backward()
    np.testing.assert_array_equal(x.grad, [1.7e308])  # a failed call changes no gradient
    np.testing.assert_array_equal(w.grad, [1.0])
    v = Value(0.5, label="x")
    scalar = v * 1.7e308
    scalar.backward()
    with pytest.raises(OverflowError, match="leaf 'x'"):  # the scalar engine, the same way
        scalar.backward()


def test_a_failed_backward_changes_no_interior_gradient() -> None:
    x = Tensor([4.0, 0.0])
    y = x * 1.0
    loss = y.sum()
    (y * 2.0).sum().backward()
    with pytest.raises(ZeroDivisionError):
        (y.sqrt() + loss).sum().backward()
    np.testing.assert_array_equal(y.grad, [2.0, 2.0])
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


@pytest.mark.parametrize(
    ("make", "error", "pattern"),
    [  # a local derivative that is not finite raises where g is 0 too, as Value's does
        (lambda x: x.log(), OverflowError, r"'log'.*input 1: its local derivative is inf"),
        (lambda x: (x * 0.0) / x, OverflowError, r"'/'.*input 1: its local derivative is inf"),
        (lambda x: x**-0.5, OverflowError, r"'\*\*'.*input 1: a\*\*\(b - 1\).*overflows"),
    ],
)
def test_an_infinite_local_derivative_raises_even_times_a_zero_gradient(
    make: Any, error: type[Exception], pattern: str
) -> None:
    tiny = Tensor(np.array([5e-324]))
    with pytest.raises(error, match=pattern):
        (make(tiny) * 0.0).sum().backward()
    np.testing.assert_array_equal(tiny.grad, [0.0])
    scalar = Value(5e-324)
    with pytest.raises(error):  # the scalar engine raises the same kind of error
        (make(scalar) * 0.0).backward()


def test_a_sum_overflows_only_when_the_exact_sum_does_as_value_sum() -> None:
    terms = [1e308, 1e308, -1e308]
    assert Tensor(terms).sum().item() == Value.sum(terms).data == 1e308
    rows = Tensor([[1e308, 1.0], [1e308, 1.0], [-1e308, 1.0]])
    np.testing.assert_array_equal(rows.sum(axis=0).data, [1e308, 3.0])
    np.testing.assert_array_equal(rows.sum(axis=(0,), keepdims=True).data, [[1e308, 3.0]])
    with pytest.raises(OverflowError, match="sum of 2 terms overflows"):
        Tensor([1e308, 1e308]).sum()
    with pytest.raises(OverflowError):
        Value.sum([1e308, 1e308])


def test_mean_reshape_transpose() -> None:
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert x.mean().item() == 2.5
    np.testing.assert_array_equal(x.mean(axis=0).data, [1.5, 2.5, 3.5])
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape((6,)).shape == (6,) and x.T.shape == (3, 2)
    x.mean(axis=1, keepdims=True).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 3), 1 / 3))


def test_finite_entries_whose_sum_overflows_are_still_finite() -> None:
    # The finiteness check sums the entries first; a sum past 1e308 must not be taken as inf.
    huge = Tensor([1.5e308, 1.5e308])
    np.testing.assert_array_equal((huge * 1.0).data, [1.5e308, 1.5e308])
    huge.data = [1.6e308, 1.6e308]
    with pytest.raises(OverflowError, match=r"\+ overflows.*2 of 2"):
        huge + huge
    with pytest.raises(ValueError, match=r"Tensor data must be finite: 1 of 3"):
        Tensor([1.5e308, 1.5e308, np.nan])


def test_an_overflow_is_one_error_and_no_numpy_warning() -> None:
    # SPEC 1.1 and 6.1: the error names the op; numpy's RuntimeWarning would be noise.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        with pytest.raises(OverflowError, match="exp"):
            Tensor(np.array([1.0, 800.0])).exp()
        with pytest.raises(OverflowError):
            Tensor(np.array([1e308, 1e308])) * 10.0
        assert Tensor(np.array([1e308, 1e308])).data.max() == 1e308  # finite, near the edge
