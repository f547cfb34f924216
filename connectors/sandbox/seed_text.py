"""Words for the seeded demo company: subjects, message bodies and tags per product line.

Kept apart from the generator so the generator stays short. English and German texts, with a few
accents and emoji, because real help desks carry them and migrations break on them.
"""

from __future__ import annotations

__all__ = ["PRODUCT_LINES", "LOCATIONS", "ISSUE_TYPES", "TECHNICAL_ISSUES", "SUBJECTS", "BODIES",
           "AGENT_REPLIES", "AGENT_REPLIES_DE", "INTERNAL_NOTES", "FOLLOW_UPS", "FOLLOW_UPS_DE",
           "CSAT_GOOD", "CSAT_BAD"]

# key -> (display name, Zendesk field option value, short group prefix)
PRODUCT_LINES: dict[str, tuple[str, str, str]] = {
    "hub": ("Smart Home Hub", "product_smart_home_hub", "Hub Support"),
    "app": ("Mobile App", "product_mobile_app", "App Support"),
    "billing": ("Billing & Subscriptions", "product_billing", "Billing"),
}

# key -> (city, IANA time zone, group suffix, locales of the customers served there)
LOCATIONS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "eu": ("Berlin", "Europe/Berlin", "EU", ("de", "en-GB", "fr")),
    "us": ("Austin", "America/Chicago", "US", ("en-US", "es")),
}

# option value -> (label, product lines it belongs to)
ISSUE_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "how_to": ("How-to question", ("hub", "app", "billing")),
    "account_access": ("Account access", ("app", "billing")),
    "pairing": ("Device pairing", ("hub", "app")),
    "connectivity": ("Wi-Fi / connectivity", ("hub",)),
    "firmware": ("Firmware update failure", ("hub",)),
    "server_error": ("Server error (5xx)", ("app", "hub")),
    "api": ("API / integration", ("app",)),
    "app_crash": ("App crash", ("app",)),
    "refund": ("Refund request", ("billing",)),
    "invoice": ("Invoice question", ("billing",)),
    "payment_failed": ("Payment failed", ("billing",)),
}

# Issue types whose tickets carry technical tags and tend to be escalated to tier 2 / tech.
TECHNICAL_ISSUES = {"firmware": ["firmware", "hub-fw"], "server_error": ["server-error", "5xx"],
                    "api": ["api", "webhook"], "app_crash": ["crash", "android"],
                    "connectivity": ["wifi"]}

SUBJECTS: dict[str, list[str]] = {
    "how_to": ["How do I set up scenes?", "Can I share access with my family?",
               "Where do I find the automation settings?", "Wie richte ich Szenen ein?"],
    "account_access": ["Can't log in after password reset", "2FA code never arrives",
                       "Konto gesperrt – bitte um Hilfe"],
    "pairing": ["Sensor won't pair with hub", "Bluetooth pairing fails at 90%",
                "Kopplung schlägt fehl"],
    "connectivity": ["Hub keeps dropping off Wi-Fi", "Hub offline since yesterday",
                     "Hub verliert ständig die WLAN-Verbindung"],
    "firmware": ["Firmware update stuck at 43%", "Hub bricked after firmware 4.2.1",
                 "Firmware-Update hängt"],
    "server_error": ["Error 503 when opening dashboard", "App shows 'server error' on login",
                     "Internal server error when saving routine"],
    "api": ["Webhook deliveries failing with 401", "REST API returns 500 for /devices",
            "Rate limit on the integrations API?"],
    "app_crash": ["App crashes on startup (Android 14)", "iOS app freezes on camera view",
                  "App stürzt beim Start ab 😞"],
    "refund": ["Refund for double charge", "Please cancel and refund my annual plan",
               "Rückerstattung für Doppelbuchung"],
    "invoice": ["Need an invoice with our VAT number", "Invoice address is wrong",
                "Rechnung mit USt-IdNr. benötigt"],
    "payment_failed": ["Card declined on renewal", "Payment failed but money was taken",
                       "Zahlung fehlgeschlagen"],
}

BODIES: dict[str, list[str]] = {
    "en": ["Hi team,\n\n{problem}\n\nI already tried restarting everything. Order {order}.\n\n"
           "Thanks,\n{name}",
           "Hello,\n\n{problem} This started on {day}. Any idea?\n\nBest regards,\n{name}",
           "{problem} Please help, this is urgent for us 🙏\n\n{name}"],
    "de": ["Hallo zusammen,\n\n{problem}\n\nIch habe schon alles neu gestartet. Bestellung "
           "{order}.\n\nViele Grüße\n{name}",
           "Guten Tag,\n\n{problem} Das Problem besteht seit {day}. Können Sie helfen?\n\n"
           "Mit freundlichen Grüßen\n{name}"],
}

AGENT_REPLIES = [
    "Hi {first},\n\nthanks for reaching out! Could you send us a screenshot and the app version "
    "you are using?\n\nCheers,\n{agent}",
    "Hi {first},\n\nsorry for the trouble. I have reset the device registration on our side; "
    "please try again and let me know.\n\n{agent}",
    "Hello {first},\n\nthis is fixed in the latest release. Please update and tell us if it "
    "still happens.\n\nBest,\n{agent}",
    "Hi {first},\n\nI have processed this for you. You should see the change within 3-5 "
    "business days.\n\nKind regards,\n{agent}",
]

AGENT_REPLIES_DE = [
    "Hallo {first},\n\nvielen Dank für Ihre Nachricht. Könnten Sie uns bitte einen Screenshot "
    "schicken?\n\nBeste Grüße\n{agent}",
    "Hallo {first},\n\nwir haben das Problem behoben. Bitte versuchen Sie es erneut – "
    "schöne Grüße aus Berlin!\n\n{agent}",
]

INTERNAL_NOTES = [
    "Customer is on the legacy plan, check entitlement before refunding.",
    "Reproduced on staging. Logs attached. Escalating to {group}.",
    "Looks like the known firmware regression (FW-2281). Escalating to {group}.",
    "Checked the payment provider dashboard: charge captured twice.",
    "Called the customer, no answer. Will retry tomorrow.",
    "Backend shows 503s from the device gateway around that time; escalating to {group}.",
]

FOLLOW_UPS = [
    "Thanks, here is the screenshot. It still does not work.",
    "Still happening after the update, unfortunately.",
    "That worked, thank you so much!",
    "Any news on this? It has been a few days.",
    "That fixed it — merci beaucoup, c'est réglé!",
]

FOLLOW_UPS_DE = [
    "Danke, anbei der Screenshot. Es funktioniert leider immer noch nicht.",
    "Super, jetzt klappt es. Vielen Dank! 👍",
    "Gibt es schon Neuigkeiten? Ich warte seit Tagen.",
]

CSAT_GOOD = ["Quick and friendly, thanks!", "Great support 👍", "Sehr hilfreich, danke!", None]
CSAT_BAD = ["Took far too long.", "Problem is not really solved.", "Keine Lösung erhalten.", None]
