"""One mapper per FHIR resource: our models → R4 JSON (validated with fhir.resources R4B before it
leaves the server) and, for the resources clients write, R4 JSON → service arguments."""
