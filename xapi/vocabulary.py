"""The xAPI vocabulary this service uses: verbs, activity types and extensions.

Every IRI here is described in the project's xAPI profile (``xapi/profile.jsonld``, documented in
docs/xapi-profile.md). cmi5 and ADL IRIs are reused where they exist, so consumers that know cmi5 read our
statements without a mapping; the few concepts with no published IRI (certificates) are defined by the
profile itself under ``PROFILE_IRI``.
"""
from __future__ import annotations

PROFILE_IRI = "https://id.lms-service.org/xapi/profile"
PROFILE_VERSION_IRI = "https://id.lms-service.org/xapi/profile/v1"

ADL_VERBS = "http://adlnet.gov/expapi/verbs/"
ADL_VERBS_W3ID = "https://w3id.org/xapi/adl/verbs/"


class Verb:
    """Verb IRIs with their English and Swedish display."""

    LAUNCHED = ADL_VERBS + "launched"
    INITIALIZED = ADL_VERBS + "initialized"
    PROGRESSED = ADL_VERBS + "progressed"
    ANSWERED = ADL_VERBS + "answered"
    COMPLETED = ADL_VERBS + "completed"
    PASSED = ADL_VERBS + "passed"
    FAILED = ADL_VERBS + "failed"
    TERMINATED = ADL_VERBS + "terminated"
    SUSPENDED = ADL_VERBS + "suspended"
    RESUMED = ADL_VERBS + "resumed"
    ABANDONED = ADL_VERBS_W3ID + "abandoned"
    SATISFIED = ADL_VERBS_W3ID + "satisfied"
    VOIDED = ADL_VERBS + "voided"
    CERTIFICATE_ISSUED = PROFILE_IRI + "/verbs/certificate-issued"
    CERTIFICATE_RENEWED = PROFILE_IRI + "/verbs/certificate-renewed"
    CERTIFICATE_REVOKED = PROFILE_IRI + "/verbs/certificate-revoked"


VERB_DISPLAY: dict[str, dict[str, str]] = {
    Verb.LAUNCHED: {"en-US": "launched", "sv-SE": "startade"},
    Verb.INITIALIZED: {"en-US": "initialized", "sv-SE": "påbörjade"},
    Verb.PROGRESSED: {"en-US": "progressed", "sv-SE": "gjorde framsteg i"},
    Verb.ANSWERED: {"en-US": "answered", "sv-SE": "besvarade"},
    Verb.COMPLETED: {"en-US": "completed", "sv-SE": "slutförde"},
    Verb.PASSED: {"en-US": "passed", "sv-SE": "klarade"},
    Verb.FAILED: {"en-US": "failed", "sv-SE": "klarade inte"},
    Verb.TERMINATED: {"en-US": "terminated", "sv-SE": "avslutade"},
    Verb.SUSPENDED: {"en-US": "suspended", "sv-SE": "pausade"},
    Verb.RESUMED: {"en-US": "resumed", "sv-SE": "återupptog"},
    Verb.ABANDONED: {"en-US": "abandoned", "sv-SE": "övergav"},
    Verb.SATISFIED: {"en-US": "satisfied", "sv-SE": "uppfyllde"},
    Verb.VOIDED: {"en-US": "voided", "sv-SE": "ogiltigförklarade"},
    Verb.CERTIFICATE_ISSUED: {"en-US": "was issued a certificate for", "sv-SE": "fick ett intyg för"},
    Verb.CERTIFICATE_RENEWED: {"en-US": "renewed a certificate for", "sv-SE": "förnyade ett intyg för"},
    Verb.CERTIFICATE_REVOKED: {"en-US": "had a certificate revoked for", "sv-SE": "fick ett intyg återkallat för"},
}


class ActivityType:
    COURSE = "https://w3id.org/xapi/cmi5/activitytype/course"  # a learning path
    MODULE = "http://adlnet.gov/expapi/activities/module"
    LESSON = "http://adlnet.gov/expapi/activities/lesson"
    ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
    INTERACTION = "http://adlnet.gov/expapi/activities/cmi.interaction"
    CERTIFICATE = PROFILE_IRI + "/activity-types/certificate"


class Extension:
    PROGRESS = "https://w3id.org/xapi/cmi5/result/extensions/progress"  # integer 0–100
    SESSION_ID = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
    MODULE_VERSION = PROFILE_IRI + "/extensions/module-version"  # semantic version of the module package
    CERTIFICATE_ID = PROFILE_IRI + "/extensions/certificate-id"
    REASON = PROFILE_IRI + "/extensions/reason"  # why a certificate was revoked
    ATTEMPT = PROFILE_IRI + "/extensions/attempt"  # 1 for the first quiz attempt of a registration


class Category:
    CMI5 = "https://w3id.org/xapi/cmi5/context/categories/cmi5"
    MOVE_ON = "https://w3id.org/xapi/cmi5/context/categories/moveon"
    PROFILE = PROFILE_VERSION_IRI


PLATFORM = "lms_service"
