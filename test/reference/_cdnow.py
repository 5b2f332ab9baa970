"""The CDNOW calibration summary (BTYD's cdnowSummary$cbs), computed here
from the bundled transactions, test/data/cdnow_sample.txt, independently of
clv: same-day purchases merged, calibration to 1997-09-30, a 39-week holdout
to 1998-06-30, time in weeks.  The result is checked against published facts
about that summary before use."""

import datetime
import os

SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "data", "cdnow_sample.txt")
CAL_END = datetime.date(1997, 9, 30)
OBS_END = datetime.date(1998, 6, 30)

# Published totals of cdnowSummary$cbs: customers, sum of x, sum of x_star.
PUBLISHED = (2357, 2457, 1882)


def load_cbs():
    """(cust, x, t_x, T_cal, x_star, m_x) per customer, ordered by cust."""
    days = {}                       # cust -> {date: revenue of that day}
    with open(SAMPLE) as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            cust = int(fields[1])
            d = datetime.datetime.strptime(fields[2], "%Y%m%d").date()
            per_day = days.setdefault(cust, {})
            per_day[d] = per_day.get(d, 0.0) + float(fields[4])
    rows = []
    for cust in sorted(days):
        per_day = days[cust]
        cal = sorted(d for d in per_day if d <= CAL_END)
        first, last = cal[0], cal[-1]
        x = len(cal) - 1
        m_x = sum(per_day[d] for d in cal[1:]) / x if x > 0 else 0.0
        x_star = sum(1 for d in per_day if CAL_END < d <= OBS_END)
        rows.append((cust, x, (last - first).days / 7.0, (CAL_END - first).days / 7.0,
                     x_star, m_x))
    got = (len(rows), sum(r[1] for r in rows), sum(r[4] for r in rows))
    if got != PUBLISHED:
        raise RuntimeError("CDNOW summary: (customers, sum x, sum x_star) = %r, published %r"
                           % (got, PUBLISHED))
    return rows
