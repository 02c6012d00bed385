"""Validation of fix requests: every bad input is refused with a clear message before any work."""

from __future__ import annotations

import pytest

from agent.exceptions import InvalidRequest
from agent.request import FixRequest, check_branch, validate_request
from agent.settings import load_settings


@pytest.fixture
def settings():
    return load_settings(allowed_repos=["https://github.com/acme/", "ssh://git.example.com/"])


@pytest.mark.parametrize(
    ("repo", "message"),
    [
        ("ext::sh -c touch% /tmp/pwned", "not a valid address"),
        ("ext::ssh", "ext::"),
        ("-uhttps://github.com/acme/x", "not a valid address"),
        ("--upload-pack=touch /tmp/x", "not a valid address"),
        ("file:///etc", "local repositories are disabled"),
        ("/etc", "local repositories are disabled"),
        ("https://evil.example.org/acme/x", "not on the allowlist"),
        ("https://github.com/other/x", "not on the allowlist"),
        ("ftp://github.com/acme/x", "scheme 'ftp' is not allowed"),
        ("https://user:secret@github.com/acme/x", "credentials"),
        ("", "repository is empty"),
        ("https://github.com/acme/" + "x" * 600, "too long"),
        ("https://github.com/acme/x y", "not a valid address"),
    ],
)
def test_bad_repositories_are_refused(settings, repo, message):
    with pytest.raises(InvalidRequest, match=message):
        validate_request(FixRequest(repo=repo, issue="it breaks"), settings)


def test_allowed_url_and_scp_form_pass(settings):
    ok = validate_request(FixRequest(repo="https://github.com/acme/shop.git", issue="total wrong"), settings)
    assert ok.repo == "https://github.com/acme/shop.git"
    ok = validate_request(FixRequest(repo="git@git.example.com:team/app.git", issue="x"), settings)
    assert ok.repo == "git@git.example.com:team/app.git"


@pytest.mark.parametrize("branch", ["-D", "--force", "a..b", "x@{1}", "ends.lock", "has space", "a~1", "", "x" * 300])
def test_bad_branches_are_refused(branch):
    if not branch:
        return  # empty means "the default branch" and is not validated
    with pytest.raises(InvalidRequest, match="not a valid branch name"):
        check_branch(branch)


def test_good_branch_passes():
    assert check_branch("fix/total-42") == "fix/total-42"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"issue": ""}, "issue description is empty"),
        ({"issue": "   \u200b "}, "issue description is empty"),
        ({"issue": "x" * 9000}, "too long"),
        ({"test_command": ""}, "test command is empty"),
        ({"test_command": "pytest\nrm -rf /"}, "one line"),
        ({"test_command": "p" * 600}, "too long"),
        ({"setup_command": "pip install .\x00"}, "one line"),
        ({"language": "cobol"}, "not supported"),
        ({"hints": ("../etc/passwd",)}, "relative path inside"),
        ({"hints": ("/abs",)}, "relative path inside"),
        ({"hints": ("-rf",)}, "relative path inside"),
        ({"hints": tuple(f"f{i}.py" for i in range(30))}, "too many"),
        ({"branch": "--orphan"}, "not a valid branch"),
    ],
)
def test_bad_fields_are_refused(settings, fields, message):
    base = {"repo": "https://github.com/acme/shop", "issue": "total is wrong"}
    with pytest.raises(InvalidRequest, match=message):
        validate_request(FixRequest(**{**base, **fields}), settings)


def test_invisible_characters_are_stripped(settings):
    raw = FixRequest(repo="https://github.com/acme/shop", issue="total\u200b is\u202e wrong")
    req = validate_request(raw, settings)
    assert req.issue == "total is wrong"


def test_local_paths_need_configuration(tmp_path):
    settings = load_settings(allow_local_repos=True)
    req = validate_request(FixRequest(repo=str(tmp_path), issue="x"), settings)
    assert req.repo == str(tmp_path.resolve())
    with pytest.raises(InvalidRequest, match="no directory"):
        validate_request(FixRequest(repo=str(tmp_path / "missing"), issue="x"), settings)


def test_round_trip_through_json(settings):
    req = FixRequest(repo="https://github.com/acme/shop", issue="x", hints=("src/a.py",))
    assert FixRequest.from_dict(req.to_dict()) == req


@pytest.mark.parametrize(
    ("repo", "allowed", "message"),
    [
        # a dot segment would let the server (or git) resolve the address outside the allowed prefix
        ("https://github.com/acme/../evil/x", ["https://github.com/acme/"], "'..' are not allowed"),
        ("https://github.com/acme/./x", ["https://github.com/acme/"], "'..' are not allowed"),
        ("https://github.com/acme/%2e%2e/evil/x", ["https://github.com/acme/"], "percent-encoding"),
        ("https://github.com/acme%2fevil/x", ["https://github.com/acme/"], "percent-encoding"),
        ("ssh://github.com/%61cme/x", ["ssh://github.com/acme/"], "percent-encoding"),  # git sends %61 as is
        # git sends everything after the host as the path: a fragment or query hides `..` from a URL parser
        ("ssh://github.com/acme/x#/../../evil/y", ["ssh://github.com/acme/"], "'#' are not allowed"),
        ("git://github.com/acme/x?/../../evil/y", ["git://github.com/acme/"], "'#' are not allowed"),
        ("https://[evil/x", ["*"], "not a valid address"),
        ("https://github.com/acme\\..\\evil/x", ["https://github.com/acme/"], "backslashes"),
        ("git@github.com:acme/../evil/x.git", ["git@github.com:acme/"], "'..' are not allowed"),
        ("https://github.com/acme/../evil/x", ["*"], "'..' are not allowed"),
        # whole segments, not string prefixes
        ("https://github.com/acme-evil/x", ["https://github.com/acme"], "not on the allowlist"),
        ("https://github.com.evil.org/acme/x", ["https://github.com"], "not on the allowlist"),
        ("https://github.com:8443/acme/x", ["https://github.com/acme/"], "not on the allowlist"),
        ("ssh://github.com/acme/x", ["https://github.com/acme/"], "not on the allowlist"),
        # an scp-like address is checked by its org, not only its host
        ("git@github.com:evil/x.git", ["git@github.com:acme/"], "not on the allowlist"),
        ("git@github.com:evil/x.git", ["ssh://github.com/acme/"], "not on the allowlist"),
        # an entry ending in .git names one repository, not a folder
        ("https://github.com/acme/shop/evil", ["https://github.com/acme/shop.git"], "not on the allowlist"),
        # off the forges, paths are case-sensitive and an scp-like path without `/` is in the user's home
        ("https://git.example.org/Acme/shop", ["https://git.example.org/acme/"], "not on the allowlist"),
        ("git@git.example.org:srv/x.git", ["ssh://git.example.org/srv/"], "not on the allowlist"),
        ("ssh://git.example.org/srv/x.git", ["git@git.example.org:srv/"], "not on the allowlist"),
    ],
)
def test_the_allowlist_compares_normalised_paths_segment_by_segment(repo, allowed, message):
    with pytest.raises(InvalidRequest, match=message) as refused:
        validate_request(FixRequest(repo=repo, issue="it breaks"), load_settings(allowed_repos=allowed))
    if "allowlist" in message:
        assert "ALLOWED_REPOS" in str(refused.value)


@pytest.mark.parametrize(
    ("repo", "allowed"),
    [
        ("https://github.com/acme/shop.git", ["https://github.com/acme"]),
        ("https://GitHub.com/acme/shop", ["https://github.com/acme/"]),
        ("https://github.com:443/acme/shop", ["https://github.com/acme/"]),
        ("https://github.com/acme/shop", ["https://github.com/acme/shop.git"]),
        ("git@github.com:acme/shop.git", ["ssh://github.com/acme/"]),
        ("git@github.com:acme/shop.git", ["git@github.com:acme"]),
        ("ssh://git@github.com/acme/shop.git", ["git@github.com:acme/"]),
        ("ssh://git@github.com/acme/shop.git", ["ssh://github.com/"]),
        ("git://127.0.0.1:9418/shop.git", ["*"]),
        # GitHub and GitLab names are case-insensitive, and their scp-like form is the ssh form
        ("https://github.com/Acme/Shop", ["https://github.com/acme/shop.git"]),
        ("git@gitlab.com:ACME/shop.git", ["ssh://gitlab.com/acme/"]),
        ("git@git.example.org:/srv/x.git", ["ssh://git.example.org/srv/"]),
        ("git@git.example.org:srv/x.git", ["git@git.example.org:srv"]),
        ("git@git.example.org:srv/x.git", ["ssh://git.example.org"]),  # the whole host
    ],
)
def test_addresses_under_an_allowlist_entry_pass_unchanged(repo, allowed):
    ok = validate_request(FixRequest(repo=repo, issue="total wrong"), load_settings(allowed_repos=allowed))
    assert ok.repo == repo


def test_a_malformed_allowlist_entry_is_a_bad_setting_at_start():
    from agent.exceptions import ConfigError

    with pytest.raises(ConfigError, match="ALLOWED_REPOS.*https://\\[github.com/"):
        load_settings(allowed_repos=["https://github.com/acme/", "https://[github.com/"])
