"""`accounts-asyncapi` and `accounts-schemas`, as an operator runs them: options that say what they
are, a summary of what was written, and a path that cannot be written is one line, not a traceback."""

import pytest

from accounts_common.events import asyncapi, compatibility

GENERATORS = {
    "accounts-asyncapi": (asyncapi.main, "--output"),
    "accounts-schemas": (compatibility.main, "--folder"),
}


@pytest.mark.parametrize("prog", GENERATORS)
def test_the_option_says_what_it_is_and_its_default(prog, capsys):
    main, option = GENERATORS[prog]
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    assert f"usage: {prog} " in shown
    assert "default:" in shown.split(option)[-1]


@pytest.mark.parametrize("prog", GENERATORS)
def test_a_path_that_cannot_be_written_is_one_line(prog, tmp_path):
    main, option = GENERATORS[prog]
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(SystemExit) as done:
        main([option, str(blocked / "inside")])
    message = str(done.value.code)
    assert message.startswith(f"{prog}: cannot write {blocked / 'inside'}")
    assert "\n" not in message


def test_asyncapi_says_where_it_wrote(tmp_path, capsys):
    target = tmp_path / "asyncapi.json"
    asyncapi.main(["--output", str(target)])
    assert capsys.readouterr().out == f"asyncapi: written to {target}\n"
    assert target.read_text(encoding="utf-8") == asyncapi.render()
