"""What the default offline detector finds, one realistic sentence per entity type."""

from __future__ import annotations

import functools

import pytest

from services.redaction import RedactionEngine, process_body


@functools.cache
def engine() -> RedactionEngine:
    return RedactionEngine.from_env({})


def found(text: str) -> list[tuple[str, str]]:
    result = process_body(engine(), {"text": [text]})[0]
    return [(e["text"], e["best_label"]) for e in result["entities"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Please ask Dr. Priya Raman to sign the form.", ("Priya Raman", "NAME")),
        ("hi, it's Maria Gonzalez, can you call me back?", ("Maria Gonzalez", "NAME")),
        ("Thanks,\nOluwaseun Adeyemi", ("Oluwaseun Adeyemi", "NAME")),
        ("We met Mr. Nguyen after lunch.", ("Nguyen", "NAME")),
        (
            "Ship it to 221B Baker Street, London NW1 6XE please.",
            ("221B Baker Street, London NW1 6XE", "LOCATION_ADDRESS"),
        ),
        (
            "Our office is at 12 Elm Rd, Springfield, IL 62704.",
            ("12 Elm Rd, Springfield, IL 62704", "LOCATION_ADDRESS"),
        ),
        ("She lives in Chicago now.", ("Chicago", "LOCATION_CITY")),
        ("He moved to Texas in the spring.", ("Texas", "LOCATION_STATE")),
        ("The parcel is going to Portugal.", ("Portugal", "LOCATION_COUNTRY")),
        ("What's the zip code? It's 02139.", ("02139", "LOCATION_ZIP")),
        ("I have worked at Acme Widgets Inc since March.", ("Acme Widgets Inc", "ORGANIZATION")),
        ("She was admitted to Mercy General Hospital overnight.", ("Mercy General Hospital", "ORGANIZATION")),
        ("Write to help.desk@example.org with the logs.", ("help.desk@example.org", "EMAIL_ADDRESS")),
        ("Call me on (415) 555-0134 after five.", ("(415) 555-0134", "PHONE_NUMBER")),
        ("Our London desk is +44 20 7946 0958.", ("+44 20 7946 0958", "PHONE_NUMBER")),
        ("Card number 4111 1111 1111 1111, exp 11/26.", ("4111 1111 1111 1111", "CREDIT_CARD")),
        ("My SSN is 123-45-6789.", ("123-45-6789", "SSN")),
        ("The meeting moved to March 3, 2024.", ("March 3, 2024", "DATE")),
        ("Invoice dated 2024-12-09 is overdue.", ("2024-12-09", "DATE")),
        ("Patient DOB: 04/12/1985.", ("04/12/1985", "DOB")),
        ("She was born on 2 March 1935 in Cardiff.", ("2 March 1935", "DOB")),
        ("A 42-year-old man presented with chest pain.", ("42-year-old", "AGE")),
        ("My grandmother is 87 years old.", ("87 years old", "AGE")),
        ("The server at 192.168.10.4 stopped answering.", ("192.168.10.4", "IP_ADDRESS")),
        ("Ping 2001:db8::8a2e:370:7334 instead.", ("2001:db8::8a2e:370:7334", "IP_ADDRESS")),
        ("Details are on https://example.com/account/settings.", ("https://example.com/account/settings", "URL")),
        ("Refund to IBAN GB82 WEST 1234 5698 7654 32 please.", ("GB82 WEST 1234 5698 7654 32", "BANK_ACCOUNT")),
        ("Deposit to account number 00123456789 today.", ("00123456789", "BANK_ACCOUNT")),
        ("Her passport number is X1234567.", ("X1234567", "PASSPORT_NUMBER")),
        ("Driver's license: D123-4567-8901.", ("D123-4567-8901", "DRIVER_LICENSE")),
    ],
)
def test_entity_types_in_sentences(text: str, expected: tuple[str, str]) -> None:
    assert expected in found(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "yeah my phone is four one five five five five zero one three four",
            ("four one five five five five zero one three four", "PHONE_NUMBER"),
        ),
        (
            "my social is four six eight two two nine one three five",
            ("four six eight two two nine one three five", "SSN"),
        ),
        (
            "the card number is four one one one one one one one one one one one one one one one",
            ("four one one one one one one one one one one one one one one one", "CREDIT_CARD"),
        ),
        (
            "account number is one two three four five six seven eight",
            ("one two three four five six seven eight", "BANK_ACCOUNT"),
        ),
        ("yes my name is jonathan okafor and i need help", ("jonathan okafor", "NAME")),
        ("thank you for calling this is tasha how can i help", ("tasha", "NAME")),
        ("i spoke with mr barros yesterday", ("barros", "NAME")),
        ("my email is john dot smith at gmail dot com", ("john dot smith at gmail dot com", "EMAIL_ADDRESS")),
        ("she was born on march third nineteen eighty five", ("march third nineteen eighty five", "DOB")),
        ("the address is two eleven oak street boise idaho", ("two eleven oak street boise idaho", "LOCATION_ADDRESS")),
        ("thank you for calling acme bank how can i help", ("acme bank", "ORGANIZATION")),
    ],
)
def test_call_transcripts(text: str, expected: tuple[str, str]) -> None:
    assert expected in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112 was declined.",  # fails the Luhn check
        "Order number 4111 1111 1111 1112 ships today.",
        "Version 1.2.3.4 fixes the crash.",
        "Take 3/4 cup of flour.",
        "Your order #48213 ships in 3 days.",
        "Room 12, 20 mg twice daily, 98.6 F.",
    ],
)
def test_things_that_are_not_pii(text: str) -> None:
    assert found(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Will you bring the forms tomorrow?",
        "Hope you are doing well.",
        "Mark the box that applies.",
        "May I help you with anything else?",
        "Please Review The Attached Invoice",
        "We will grow roses and hope for rain.",
        "Can you pay the bill by Friday?",
        "the rose garden opens in june",
        "i will mark it as done and hope for the best",
    ],
)
def test_common_words_are_not_names(text: str) -> None:
    assert [label for _, label in found(text) if label == "NAME"] == []


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("I asked Will to bring the tickets.", "Will"),
        ("Mark said he would come.", "Mark"),
        ("Dear Hope, thanks for the call.", "Hope"),
        ("Will Smith called about the refund.", "Will Smith"),
        ("my daughter grace is twelve", "grace"),
    ],
)
def test_common_words_are_names_when_the_context_says_person(text: str, name: str) -> None:
    assert (name, "NAME") in found(text)


def test_acronyms_are_not_names() -> None:
    assert found("IBAN and DOB are required.") == []


def test_email_local_part_is_not_a_name() -> None:
    assert found("Write to maria.gonzalez@example.com today.") == [("maria.gonzalez@example.com", "EMAIL_ADDRESS")]


def test_dob_only_for_the_date_after_the_cue() -> None:
    assert found("DOB 05/08/1961, admitted 11/03/2024.") == [("05/08/1961", "DOB"), ("11/03/2024", "DATE")]


def test_age_after_a_name() -> None:
    assert ("27", "AGE") in found("Candidate: Aditi Bhattacharya, 27, MSc from Leeds.")
