"""Vectorised parsing of fixed-width numeric columns held as a (n_record, width) uint8 matrix.

Each parser returns ``(value, ok)``: the parsed values and a boolean mask of records whose field
is well formed. Values are exact: the decimal digits are gathered into an integer mantissa and
divided once by a power of ten, which IEEE-754 rounds correctly, so results equal Python's
``float(text)``. No record is ever parsed in a Python loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Chars = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]

SPACE, PLUS, MINUS, POINT, ZERO, NINE = 32, 43, 45, 46, 48, 57


def _digits(chars: Chars) -> tuple[Mask, npt.NDArray[np.int64]]:
    is_digit = (chars >= ZERO) & (chars <= NINE)
    return is_digit, np.where(is_digit, chars.astype(np.int64) - ZERO, 0)


def _mantissa(chars: Chars) -> tuple[npt.NDArray[np.int64], Mask, npt.NDArray[np.int64]]:
    """Per row: the integer its digits form (other chars ignored), the digit mask, and for each
    column the number of digits to its right."""
    is_digit, d = _digits(chars)
    # number of digits strictly to the right of each column
    right: npt.NDArray[np.int64] = np.cumsum(is_digit[:, ::-1], axis=1)[:, ::-1] - is_digit
    value = (d * np.power(10, right, dtype=np.int64)).sum(axis=1)
    return value, is_digit, right


def _leading_spaces_only(chars: Chars, allowed: Mask) -> Mask:
    """True where every space precedes every non-space character and all chars are allowed."""
    is_space = chars == SPACE
    seen_nonspace = np.cumsum(~is_space, axis=1) > 0
    return allowed.all(axis=1) & ~(is_space & seen_nonspace).any(axis=1)


def parse_int(chars: Chars, blank_ok: bool = False) -> tuple[npt.NDArray[np.int64], Mask]:
    """Signed integer right-aligned in its field (leading spaces, optional sign)."""
    value, is_digit, _ = _mantissa(chars)
    is_space = chars == SPACE
    is_sign = (chars == MINUS) | (chars == PLUS)
    # a sign may only stand immediately before the first digit
    first_digit = np.argmax(is_digit, axis=1)
    sign_pos = np.argmax(is_sign, axis=1)
    has_sign = is_sign.any(axis=1)
    sign_ok = ~has_sign | ((is_sign.sum(axis=1) == 1) & (sign_pos + 1 == first_digit))
    ok = _leading_spaces_only(chars, is_digit | is_space | is_sign) & sign_ok
    has_digit = is_digit.any(axis=1)
    blank = is_space.all(axis=1)
    ok &= has_digit | (blank_ok & blank)
    negative = (chars == MINUS).any(axis=1)
    return np.where(negative, -value, value), ok


def parse_decimal(chars: Chars) -> tuple[npt.NDArray[np.float64], Mask]:
    """Signed decimal with an explicit point, e.g. ' 51.6416', '-.00002182', '15.72125391'."""
    value, is_digit, right = _mantissa(chars)
    is_space = chars == SPACE
    is_point = chars == POINT
    is_sign = (chars == MINUS) | (chars == PLUS)
    n_point = is_point.sum(axis=1)
    # digits after the point = digits to the right of the point column
    frac_digits = np.where(is_point, right + 0, 0).sum(axis=1)
    non_space = ~is_space
    first_nonspace = np.argmax(non_space, axis=1)
    sign_first = (
        is_sign.sum(axis=1) == np.take_along_axis(is_sign, first_nonspace[:, None], 1)[:, 0]
    )
    ok = (
        _leading_spaces_only(chars, is_digit | is_space | is_point | is_sign)
        & (n_point <= 1)
        & (is_sign.sum(axis=1) <= 1)
        & sign_first
        & is_digit.any(axis=1)
    )
    negative = (chars == MINUS).any(axis=1)
    out = value.astype(np.float64) / np.power(10.0, frac_digits)
    return np.where(negative, -out, out), ok


def parse_implied_decimal(chars: Chars) -> tuple[npt.NDArray[np.float64], Mask]:
    """Digits with an implied leading point, e.g. TLE eccentricity '0007417' -> 0.0007417."""
    value, is_digit, _ = _mantissa(chars)
    width = chars.shape[1]
    ok: Mask = np.asarray(is_digit.all(axis=1))
    return value.astype(np.float64) / 10.0**width, ok


def parse_exponent(chars: Chars) -> tuple[npt.NDArray[np.float64], Mask]:
    """TLE 'decimal point assumed' exponential field, e.g. ' 28098-4' -> 0.28098e-4, '-11606-4'.

    Layout: sign (' ', '+' or '-'), mantissa digits (leading spaces read as blanks), exponent sign
    ('+', '-' or ' '), one exponent digit.
    """
    sign_c = chars[:, 0]
    mant = chars[:, 1:-2]
    exp_sign_c = chars[:, -2]
    exp_c = chars[:, -1]
    m_value, m_digit, _ = _mantissa(mant)
    m_ok = _leading_spaces_only(mant, m_digit | (mant == SPACE)) & m_digit.any(axis=1)
    sign_ok = np.isin(sign_c, (SPACE, PLUS, MINUS))
    exp_sign_ok = np.isin(exp_sign_c, (SPACE, PLUS, MINUS))
    exp_ok = (exp_c >= ZERO) & (exp_c <= NINE)
    exponent = np.where(exp_ok, exp_c.astype(np.int64) - ZERO, 0)
    exponent = np.where(exp_sign_c == MINUS, -exponent, exponent)
    # 0.ddddd x 10^e, computed as an integer mantissa over one power of ten
    scale = exponent - mant.shape[1]
    value = np.where(
        scale >= 0,
        m_value.astype(np.float64) * np.power(10.0, np.maximum(scale, 0)),
        m_value.astype(np.float64) / np.power(10.0, np.maximum(-scale, 0)),
    )
    value = np.where(sign_c == MINUS, -value, value)
    return value, m_ok & sign_ok & exp_sign_ok & exp_ok


def checksum_ok(lines: Chars) -> Mask:
    """TLE modulo-10 checksum: digits of columns 1-68 plus one per minus sign, against column 69."""
    body = lines[:, :68]
    _, d = _digits(body)
    total = d.sum(axis=1) + (body == MINUS).sum(axis=1)
    expected = lines[:, 68].astype(np.int64) - ZERO
    return (total % 10) == expected


def checksum_digit(line_body: str) -> int:
    """The TLE checksum digit for the first 68 characters of a line."""
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line_body[:68]) % 10
