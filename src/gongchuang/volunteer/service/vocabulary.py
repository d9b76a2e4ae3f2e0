"""The words activities and profiles are described in: categories of service, skills and
the times a volunteer is free (codes stored, labels shown).
"""

from __future__ import annotations

from gongchuang.core.i18n import N_

CATEGORIES = {
    "community": N_("Community service"),
    "elderly": N_("Elderly care"),
    "environment": N_("Environment"),
    "education": N_("Education and tutoring"),
    "emergency": N_("Emergency and first aid"),
    "culture": N_("Culture and sport"),
    "health": N_("Health and epidemic prevention"),
    "events": N_("Large events"),
    "rural": N_("Rural revitalisation"),
}
SKILLS = {
    "first_aid": N_("First aid"),
    "driving": N_("Driving"),
    "teaching": N_("Teaching"),
    "medical": N_("Medical"),
    "it": N_("Computers and phones"),
    "translation": N_("Translation"),
    "sign_language": N_("Sign language"),
    "photography": N_("Photography"),
    "counselling": N_("Counselling"),
    "law": N_("Legal advice"),
}
AVAILABILITY = {
    "weekday_day": N_("Weekday daytime"),
    "weekday_evening": N_("Weekday evenings"),
    "weekend": N_("Weekends"),
}
