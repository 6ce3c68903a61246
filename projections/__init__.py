"""The read side of the ledger: read models (projections) and the printable reports.

- `projections.schema`    the view tables (SQLAlchemy Core), in the ledger's own database;
- `projections.decode`    stored events read and decoded straight from their signed statements;
- `projections.projector` `Views`: the catch-up loop (a page of events per transaction, with the
                          tracking position), `rebuild()`, and the scoring-policy resolution;
- `projections.queries`   plain rows from the views (registers, member-years, balances, statistics);
- `projections.reports`   the notice's forms and the other reports as render documents;
- `projections.render`    PDF, XLSX, CSV and JSON from a render document;
- `projections.cli`       `timeledger report …` and `timeledger project`.

Typical use::

    views = Views(ledger)        # creates the tables on first use
    views.catch_up()             # apply every event stored since the last call
    report = reports.build("card", views, year=2026, member_id=member_id)
    pdf = render(report, "pdf")
"""
