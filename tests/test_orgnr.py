import pytest

from lms_service.orgs.orgnr import OrgNumberError, normalise_org_number


@pytest.mark.parametrize("text, expected", [
    ("556677-8899", "556677-8899"),
    ("5566778899", "556677-8899"),
    (" 556677 - 8899 ".replace(" - ", "-"), "556677-8899"),
    ("16556677-8899", "556677-8899"),
    ("556036-0793", "556036-0793"),
])
def test_valid_numbers_are_normalised(text, expected):
    assert normalise_org_number(text) == expected


@pytest.mark.parametrize("text, code", [
    ("556677-8898", "check_digit"),
    ("556677-889", "format"),
    ("55667788990", "format"),
    ("abcdef-ghij", "format"),
    ("", "format"),
    ("811218-9876", "not_legal_entity"),  # a personal identity number shape (third digit 1)
])
def test_invalid_numbers_say_why(text, code):
    with pytest.raises(OrgNumberError) as info:
        normalise_org_number(text)
    assert info.value.code == code
