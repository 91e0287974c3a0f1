"""5. The audit trail's cost: the same operations with CRENEAU_AUDIT_ENABLED on and off, interleaved.
Booking: one secretary booking by phone (`appointment_book`: audited patient read, audited create,
detection queries). Search: the secretary's agenda of one day (`agenda`: every appointment and its
patient recorded) and a patient search by phone number (`patient_search_for_organization`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import override_settings

from .b_booking import slots
from .data import World
from .timing import percentiles


def run(w: World, *, n: int = 40) -> dict[str, Any]:
    import time

    from creneau.accounts.models import User
    from creneau.accounts.selectors import staff_actor
    from creneau.booking.selectors import agenda
    from creneau.booking.services import SlotRef, appointment_book
    from creneau.patients.models import Patient
    from creneau.patients.selectors import patient_search_for_organization

    actor = staff_actor(User.objects.by_email(w.secretary_email).get())
    on_p, off_p = w.booking_ids[38], w.booking_ids[39]
    samples: dict[str, list[float]] = {
        k: [] for k in ("book_on", "book_off", "agenda_on", "agenda_off", "psearch_on", "psearch_off")
    }
    starts = slots(20, n + 3)
    patients = w.clinic_patients

    def book(pid: Any, i: int) -> None:
        _org, site, motif = w.agenda[pid]
        appointment_book(actor=actor, slot=SlotRef(pid, motif, site, starts[i]), patient_id=patients[i % len(patients)])

    day_start = starts[0]
    day_end = day_start + dt.timedelta(days=1)
    phone = Patient.objects.get(pk=patients[0]).phone

    for i in range(n + 3):
        for audited in (True, False):
            suffix = "on" if audited else "off"
            with override_settings(CRENEAU_AUDIT_ENABLED=audited):
                t0 = time.perf_counter()
                book(on_p if audited else off_p, i)
                t1 = time.perf_counter()
                rows = agenda(actor, practitioner_id=on_p, start=day_start, end=day_end)
                t2 = time.perf_counter()
                patient_search_for_organization(actor, phone=phone)
                t3 = time.perf_counter()
            if i >= 3:  # warm-up
                samples[f"book_{suffix}"].append(t1 - t0)
                samples[f"agenda_{suffix}"].append(t2 - t1)
                samples[f"psearch_{suffix}"].append(t3 - t2)
    out: dict[str, Any] = {k: percentiles(v) for k, v in samples.items()}
    out["agenda_rows"] = len(rows)
    for op in ("book", "agenda", "psearch"):
        out[f"ratio_{op}"] = round(out[f"{op}_on"]["p50_ms"] / out[f"{op}_off"]["p50_ms"], 3)
    return out
