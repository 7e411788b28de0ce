"""OCO brackets (DESIGN §8): bracket parameters, the numba simulator and its per-order trades.

``simulate_brackets`` turns orders placed at bar closes into trades; its module docstring
(:mod:`opt.brackets.simulator`) states every fill and exit rule.
"""

from __future__ import annotations

from opt.brackets.params import BracketParams
from opt.brackets.prices import bracket_prices
from opt.brackets.simulator import simulate_brackets
from opt.brackets.trades import ExitReason, Trades

__all__ = ["BracketParams", "ExitReason", "Trades", "bracket_prices", "simulate_brackets"]
