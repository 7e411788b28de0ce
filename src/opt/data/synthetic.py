"""Seeded synthetic 1-minute bars shaped like CME equity-index futures (DESIGN §3, ``data=synthetic``).

The model, per trading day D (a weekday; Monday's session opens Sunday evening):

- Globex session 18:00 exchange time on D-1 to 17:00 on D: 1,380 one-minute bars stamped at their open,
  then the daily 17:00-18:00 break. No holidays.
- Volume: an intraday intensity profile (contracts/minute, ES-like, calibrated on the shared ES sample)
  that is low overnight, rises with Europe and the 08:30 releases, spikes at the 09:30 RTH open and is
  U-shaped through RTH with a close spike; Poisson counts with gamma noise (negative binomial). A minute
  that draws zero contracts has no bar (an overnight gap).
- Returns: Student-t shocks scaled by a per-minute volatility proportional to intensity^0.3 (RTH more
  volatile than overnight), times a stochastic-volatility multiplier (log-AR(1) across days plus a
  log-AR(1) across minutes, i.e. volatility clustering), normalized so that the annualized volatility
  is ``annual_vol``; a gap at each session open (larger after weekends).
- OHLC in integer ticks: open = previous close, close = the tick-rounded path, high/low extend
  max/min(open, close) by whole ticks, so validation holds by construction; single-contract bars are
  flat.
"""

from __future__ import annotations

import zoneinfo

import numpy as np
import pandas as pd

from opt.schema import TRADING_DAYS_PER_YEAR

__all__ = ["SESSION_MINUTES", "generate_synthetic_bars", "trading_days_in_years"]

SESSION_OPEN_HOUR = 18  # exchange time, on the calendar day before the trading day
SESSION_MINUTES = 23 * 60  # 18:00 .. 17:00 next day
_NS_PER_MINUTE = 60_000_000_000

# Volume intensity knots: (minutes since 18:00 ET, contracts per minute), linearly interpolated.
_VOLUME_KNOTS = (
    (0, 120), (30, 75), (120, 75), (180, 85), (360, 55), (480, 70), (540, 150), (600, 140),
    (720, 115), (780, 160), (840, 250), (870, 450), (929, 700), (930, 3000), (990, 2600),
    (1080, 1700), (1200, 1450), (1260, 1900), (1309, 2600), (1310, 4000), (1319, 4500),
    (1320, 1300), (1335, 700), (1379, 450),
)  # fmt: skip
_RTH_OPEN, _RTH_OPEN_SPIKE, _RTH_OPEN_DECAY = 930, 6000.0, 10.0  # 09:30 ET: extra contracts, e-folding min
_NEWS, _NEWS_SPIKE, _NEWS_DECAY = 870, 800.0, 5.0  # 08:30 ET releases
_VOL_PER_INTENSITY = 0.3  # per-minute volatility ~ intensity ** 0.3
_VOLUME_PER_VOL = 1.5  # volume multiplier ~ (stochastic vol multiplier) ** 1.5
_VOLUME_GAMMA_SHAPE = 2.0  # gamma noise on the Poisson rate (lower = more dispersed)
_DAY_PHI, _DAY_SD = 0.85, 0.30  # log-vol AR(1) across days: persistence, stationary sd
_MINUTE_PHI, _MINUTE_SD = 0.99, 0.30  # log-vol AR(1) across minutes (half-life ~70 min)
_T_DOF = 5  # Student-t degrees of freedom of the shocks
_BREAK_GAP_VAR, _WEEKEND_GAP_VAR = 0.02, 0.30  # session-open gap variance, in daily variances
_RANGE_SCALE = 0.5  # mean high/low extension beyond open/close, in per-minute price sd


def generate_synthetic_bars(
    *,
    seed: int,
    first_day: str,
    n_days: int,
    start_price: float,
    annual_vol: float,
    tick_size: float,
    exchange_tz: str = "America/New_York",
) -> pd.DataFrame:
    """Generate seeded, realistic 1-minute futures bars (same arguments -> identical frame).

    Args:
        seed: random seed.
        first_day: first trading day (a date in exchange time); a weekend date rolls to the next Monday.
        n_days: number of trading days (weekdays) to generate, >= 1.
        start_price: price at the first session open, in points, >= tick_size.
        annual_vol: annualized volatility of log returns (e.g. 0.16), >= 0.
        tick_size: price increment in points (> 0); all prices are multiples of it.
        exchange_tz: IANA timezone the session clock runs in.

    Returns:
        Frame of shape (about n_days * 1,380, 6) in the canonical layout of
        :func:`~opt.data.validate.validate_bars`: ``timestamp`` datetime64[ns, UTC] (bar open),
        ``open, high, low, close`` in points and ``volume`` in contracts (float64).

    Raises:
        ValueError: naming the argument that is out of range or unparseable.
    """
    days = _trading_days(first_day, n_days)
    _check_args(start_price=start_price, annual_vol=annual_vol, tick_size=tick_size, exchange_tz=exchange_tz)
    rng = np.random.default_rng(seed)
    intensity = _intensity_profile()
    vol_mult = _vol_multiplier(rng, n_days)
    log_returns = _log_returns(rng, days, intensity, vol_mult, annual_vol)
    volume = _volume(rng, intensity, vol_mult)
    o, h, lo, c = _ohlc_ticks(
        rng, start_price, tick_size, log_returns, vol_mult, intensity, annual_vol, volume
    )
    keep = volume > 0
    stamps = _timestamps(days, exchange_tz)[keep]
    frame: dict[str, pd.DatetimeIndex | np.ndarray] = {
        "timestamp": pd.DatetimeIndex(stamps.view("datetime64[ns]")).tz_localize("UTC")
    }
    for name, ticks in (("open", o), ("high", h), ("low", lo), ("close", c)):
        frame[name] = ticks[keep] * float(tick_size)
    frame["volume"] = volume[keep].astype("float64")
    return pd.DataFrame(frame)


def trading_days_in_years(years: float) -> int:
    """Trading days (weekdays) in ``years`` years: ``round(years * TRADING_DAYS_PER_YEAR)``, at least 1.

    A year of synthetic bars is 252 sessions of up to 1,380 bars, about 348,000 bars; 10 years about
    3.5 million (``data.years``).

    Raises:
        ValueError: if ``years`` is not > 0.
    """
    if not float(years) > 0:
        raise ValueError(f"years must be > 0, got {years}")
    return max(1, round(float(years) * TRADING_DAYS_PER_YEAR))


def _trading_days(first_day: str, n_days: int) -> pd.DatetimeIndex:
    """``n_days`` consecutive weekdays (naive dates) from ``first_day`` on."""
    if int(n_days) < 1:
        raise ValueError(f"n_days must be >= 1, got {n_days}")
    try:
        first = pd.Timestamp(str(first_day)).normalize()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"first_day must be a date such as 2025-01-06, got {first_day!r}") from exc
    if first is pd.NaT or first.tzinfo is not None:
        raise ValueError(f"first_day must be a plain date such as 2025-01-06, got {first_day!r}")
    return pd.bdate_range(start=first, periods=int(n_days))


def _check_args(*, start_price: float, annual_vol: float, tick_size: float, exchange_tz: str) -> None:
    if not tick_size > 0:
        raise ValueError(f"tick_size must be > 0, got {tick_size}")
    if not start_price >= tick_size:
        raise ValueError(f"start_price must be >= tick_size ({tick_size}), got {start_price}")
    if not 0 <= annual_vol < 10:
        raise ValueError(f"annual_vol must be in [0, 10), got {annual_vol}")
    try:
        zoneinfo.ZoneInfo(exchange_tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"exchange_tz must be an IANA time zone name, got {exchange_tz!r}") from exc


def _timestamps(days: pd.DatetimeIndex, exchange_tz: str) -> np.ndarray:
    """Bar open times, int64 ns UTC, shape (n_days * SESSION_MINUTES,).

    Each session is 23 hours of elapsed time from its 18:00 open; US and European clock changes happen
    on weekend nights, outside every session.
    """
    opens_local = days - pd.Timedelta(days=1) + pd.Timedelta(hours=SESSION_OPEN_HOUR)
    opens = opens_local.tz_localize(exchange_tz).tz_convert("UTC").as_unit("ns").asi8
    minutes = np.arange(SESSION_MINUTES, dtype=np.int64) * _NS_PER_MINUTE
    return (opens[:, None] + minutes[None, :]).ravel()


def _intensity_profile() -> np.ndarray:
    """Expected contracts per minute by minute of session, shape (SESSION_MINUTES,)."""
    s = np.arange(SESSION_MINUTES, dtype=np.float64)
    knots = np.asarray(_VOLUME_KNOTS, dtype=np.float64)
    base = np.interp(s, knots[:, 0], knots[:, 1])
    since_open, since_news = s - _RTH_OPEN, s - _NEWS
    base += np.where(
        since_open >= 0, _RTH_OPEN_SPIKE * np.exp(-np.maximum(since_open, 0) / _RTH_OPEN_DECAY), 0
    )
    base += np.where(since_news >= 0, _NEWS_SPIKE * np.exp(-np.maximum(since_news, 0) / _NEWS_DECAY), 0)
    return base


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """Stationary Gaussian AR(1) path of length ``n`` with persistence ``phi`` and marginal sd ``sd``."""
    shocks = rng.standard_normal(n) * sd * np.sqrt(1 - phi**2)
    start = rng.standard_normal() * sd
    from scipy.signal import lfilter  # imported here: scipy.signal costs ~2 s of every process start

    return lfilter([1.0], [1.0, -phi], shocks, zi=[phi * start])[0]


def _vol_multiplier(rng: np.random.Generator, n_days: int) -> np.ndarray:
    """Stochastic-volatility multiplier with E[m^2] = 1, shape (n_days * SESSION_MINUTES,)."""
    daily = np.repeat(_ar1(rng, n_days, _DAY_PHI, _DAY_SD), SESSION_MINUTES)
    minute = _ar1(rng, n_days * SESSION_MINUTES, _MINUTE_PHI, _MINUTE_SD)
    return np.exp(daily + minute - (_DAY_SD**2 + _MINUTE_SD**2))


def _minute_sd(intensity: np.ndarray, annual_vol: float) -> np.ndarray:
    """Baseline sd of 1-minute log returns by minute of session, shape (SESSION_MINUTES,)."""
    weight = intensity ** (2 * _VOL_PER_INTENSITY)
    daily_var = annual_vol**2 / TRADING_DAYS_PER_YEAR
    return np.sqrt(daily_var * weight / weight.sum())


def _log_returns(
    rng: np.random.Generator,
    days: pd.DatetimeIndex,
    intensity: np.ndarray,
    vol_mult: np.ndarray,
    annual_vol: float,
) -> np.ndarray:
    """1-minute log returns with session-open gaps, shape (n_days * SESSION_MINUTES,)."""
    n_days = len(days)
    shocks = rng.standard_t(_T_DOF, n_days * SESSION_MINUTES) / np.sqrt(_T_DOF / (_T_DOF - 2))
    returns = np.tile(_minute_sd(intensity, annual_vol), n_days) * vol_mult * shocks
    gap_var = np.where(days.dayofweek == 0, _WEEKEND_GAP_VAR, _BREAK_GAP_VAR)
    gap_sd = annual_vol * np.sqrt(gap_var / TRADING_DAYS_PER_YEAR)
    opens = np.arange(n_days) * SESSION_MINUTES
    returns[opens] += gap_sd * vol_mult[opens] * rng.standard_normal(n_days)
    return returns


def _volume(rng: np.random.Generator, intensity: np.ndarray, vol_mult: np.ndarray) -> np.ndarray:
    """Contracts traded per minute (negative binomial around the profile), shape like ``vol_mult``."""
    n_days = len(vol_mult) // SESSION_MINUTES
    noise = rng.gamma(_VOLUME_GAMMA_SHAPE, 1 / _VOLUME_GAMMA_SHAPE, len(vol_mult))
    # vol_mult is lognormal with median exp(-(day sd^2 + minute sd^2)); rescale its power to median 1
    median_mult = np.exp(-(_DAY_SD**2 + _MINUTE_SD**2) * _VOLUME_PER_VOL)
    rate = np.tile(intensity, n_days) * (vol_mult**_VOLUME_PER_VOL / median_mult) * noise
    return rng.poisson(rate)


def _ohlc_ticks(
    rng: np.random.Generator,
    start_price: float,
    tick_size: float,
    log_returns: np.ndarray,
    vol_mult: np.ndarray,
    intensity: np.ndarray,
    annual_vol: float,
    volume: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Open, high, low, close in integer ticks (int64), each shape like ``log_returns``.

    low <= min(open, close) <= max(open, close) <= high and low >= 1 tick hold by construction.
    """
    price = start_price * np.exp(np.cumsum(log_returns))
    close = np.maximum(np.rint(price / tick_size).astype(np.int64), 1)
    open_ = np.empty_like(close)
    open_[0] = max(int(round(start_price / tick_size)), 1)
    open_[1:] = close[:-1]
    single = volume == 1  # one trade: a flat bar
    open_[single] = close[single]
    n_days = len(log_returns) // SESSION_MINUTES
    sd_ticks = np.tile(_minute_sd(intensity, annual_vol), n_days) * vol_mult * price / tick_size
    ext = np.floor(rng.exponential(_RANGE_SCALE, (2, len(close))) * sd_ticks).astype(np.int64)
    ext[:, single] = 0
    high = np.maximum(open_, close) + ext[0]
    low = np.maximum(np.minimum(open_, close) - ext[1], 1)
    return open_, high, low, close
