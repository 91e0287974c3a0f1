// A partner's flow with fhir-kit-client (Node), run by tests/test_fhir_client.py against the live test
// server: read the CapabilityStatement, find the token endpoint the SMART way, get a token with OAuth2
// client credentials, search a practitioner's free slots by RPPS identifier (the SAS chain), book one,
// read it back, cancel it, read it again. Everything received is printed as one JSON document on stdout
// for the test to check; a failure prints the server's answer on stderr and exits 1.
//
// Input (environment): FHIR_BASE, CLIENT_ID, CLIENT_SECRET, PRACTITIONER_IDENTIFIER (system|value),
// PATIENT_ID, START_GE (a date).
import { Client } from 'fhir-kit-client';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

async function main() {
  const fhir = new Client({ baseUrl: env('FHIR_BASE') });
  const metadata = await fhir.capabilityStatement();
  const auth = await fhir.smartAuthMetadata();
  if (!auth.tokenUrl) throw new Error('no token endpoint advertised');

  const basic = Buffer.from(`${env('CLIENT_ID')}:${env('CLIENT_SECRET')}`).toString('base64');
  const issued = await fetch(auth.tokenUrl, {
    method: 'POST',
    headers: { Authorization: `Basic ${basic}`, 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'system/Slot.rs system/Schedule.rs system/Practitioner.rs system/Appointment.cruds',
    }),
  });
  const token = await issued.json();
  if (issued.status !== 200) throw Object.assign(new Error('token refused'), { body: token });
  fhir.bearerToken = token.access_token;

  const slots = await fhir.search({
    resourceType: 'Slot',
    searchParams: {
      'schedule.actor:Practitioner.identifier': env('PRACTITIONER_IDENTIFIER'),
      status: 'free',
      start: `ge${env('START_GE')}`,
      _count: 3,
    },
  });
  const chosen = (slots.entry || []).map((e) => e.resource).find((r) => r.resourceType === 'Slot');
  if (!chosen) throw Object.assign(new Error('no free slot found'), { body: slots });

  const created = await fhir.create({
    resourceType: 'Appointment',
    body: {
      resourceType: 'Appointment',
      status: 'booked',
      slot: [{ reference: `Slot/${chosen.id}` }],
      participant: [{ actor: { reference: `Patient/${env('PATIENT_ID')}` }, status: 'accepted' }],
    },
  });
  const read = await fhir.read({ resourceType: 'Appointment', id: created.id });
  const cancelled = await fhir.update({
    resourceType: 'Appointment',
    id: read.id,
    body: { ...read, status: 'cancelled' },
  });
  const reread = await fhir.read({ resourceType: 'Appointment', id: created.id });
  process.stdout.write(
    JSON.stringify({ metadata, tokenUrl: String(auth.tokenUrl), token_type: token.token_type, slots, chosen, created, read, cancelled, reread }),
  );
}

main().catch((error) => {
  const body = error.body ?? error.response?.data ?? null;
  process.stderr.write(`${error.message}\n${body ? JSON.stringify(body) : ''}\n`);
  process.exit(1);
});
