from parens import is_valid_parens


def test_empty():
    assert is_valid_parens("") is True


def test_no_brackets():
    assert is_valid_parens("hello world") is True


def test_unclosed():
    assert is_valid_parens("((x)") is False


def test_nested():
    assert is_valid_parens("(a(b)c)()") is True


def test_close_before_open():
    assert is_valid_parens(")(") is False
