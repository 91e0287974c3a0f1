"""Events the booking app emits (`creneau.core.events.emit`), inside the transaction of the write;
handlers are listed in `settings.CRENEAU_EVENT_HANDLERS` (notifications: messages, reminders, the waiting
list). Booking imports none of its listeners."""

# A booking was made: a hold confirmed or a direct booking (appointment_id, actor; `appointment`: the row
# when the emitter has it loaded, and `fresh=True` when that row was inserted in this very transaction).
APPOINTMENT_BOOKED = "appointment.booked"
# A booked appointment was cancelled (appointment_id, actor).
APPOINTMENT_CANCELLED = "appointment.cancelled"
# A booking moved to another slot: the old row is cancelled, a new one booked (old_appointment_id,
# new_appointment_id, actor).
APPOINTMENT_MOVED = "appointment.moved"
# Staff recorded a no-show: a booked appointment that started without the patient (appointment_id, actor;
# `excused` when the practice excused it). Emitted once, when the status becomes no-show.
APPOINTMENT_NO_SHOW = "appointment.no_show"
