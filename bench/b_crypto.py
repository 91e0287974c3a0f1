"""4. Reading 1,000 patients with their identity decrypted (AES-256-GCM per field) against the same rows,
same columns, stored in plaintext in a twin table read through a plain Django model."""

from __future__ import annotations

from typing import Any

from .timing import interleaved

_plain_model: Any = None


def plain_model() -> Any:
    global _plain_model
    if _plain_model is not None:
        return _plain_model
    from django.db import models

    class Meta:
        app_label = "bench"
        db_table = "bench_patient_plain"
        managed = False

    _plain_model = type(
        "PlainPatient",
        (models.Model,),
        {
            "__module__": __name__,
            "Meta": Meta,
            "id": models.UUIDField(primary_key=True),
            "created_at": models.DateTimeField(),
            "updated_at": models.DateTimeField(),
            "family_name": models.CharField(max_length=100),
            "given_name": models.CharField(max_length=100),
            "birth_date": models.DateField(),
            "sex": models.CharField(max_length=1),
            "phone": models.CharField(max_length=20),
            "email": models.CharField(max_length=254),
            "address_line": models.CharField(max_length=250),
            "postcode": models.CharField(max_length=10),
            "city": models.CharField(max_length=120),
            "relationship": models.CharField(max_length=16),
            "account_id": models.BigIntegerField(null=True),
            "created_by_organization_id": models.UUIDField(null=True),
            "email_bidx": models.CharField(max_length=64, null=True),
            "phone_bidx": models.CharField(max_length=64, null=True),
            "name_birth_bidx": models.CharField(max_length=64, null=True),
        },
    )
    return _plain_model


def run(n: int = 1000, repeats: int = 30) -> dict[str, Any]:
    from django.db import connection

    from creneau.patients.models import IDENTITY_FIELDS, Patient

    Plain = plain_model()
    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True)[:n])
    assert len(ids) == n, f"need {n} patients"
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_patient_plain")
        cur.execute(
            "CREATE TABLE bench_patient_plain (id uuid PRIMARY KEY, created_at timestamptz, updated_at timestamptz, "
            "family_name varchar(100), given_name varchar(100), birth_date date, sex varchar(1), phone varchar(20), "
            "email varchar(254), address_line varchar(250), postcode varchar(10), city varchar(120), "
            "relationship varchar(16), account_id bigint, created_by_organization_id uuid, email_bidx varchar(64), "
            "phone_bidx varchar(64), name_birth_bidx varchar(64))"
        )
    rows = []
    for p in Patient.objects.filter(pk__in=ids):
        fields = {f: getattr(p, f) for f in IDENTITY_FIELDS}
        rows.append(
            Plain(
                id=p.pk,
                created_at=p.created_at,
                updated_at=p.updated_at,
                relationship=p.relationship,
                account_id=p.account_id,
                created_by_organization_id=p.created_by_organization_id,
                email_bidx=p.email_bidx,
                phone_bidx=p.phone_bidx,
                name_birth_bidx=p.name_birth_bidx,
                **fields,
            )
        )
    Plain.objects.bulk_create(rows)
    with connection.cursor() as cur:
        cur.execute("ANALYZE bench_patient_plain")

    def read(model: Any) -> Any:
        def go() -> None:
            got = 0
            for p in model.objects.filter(pk__in=ids):
                for f in IDENTITY_FIELDS:
                    getattr(p, f)
                got += 1
            assert got == n

        return go

    out: dict[str, Any] = interleaved({"encrypted": read(Patient), "plaintext": read(Plain)}, n=repeats)
    out["patients"] = n
    out["fields_per_patient"] = len(IDENTITY_FIELDS)
    out["ratio"] = round(out["encrypted"]["p50_ms"] / out["plaintext"]["p50_ms"], 3)
    return out
