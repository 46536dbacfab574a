# Sourced by tests/matrix/run and tests/stages/integration-cores: the
# ansible-cores the collection claims, the Python each runs on, and their
# venvs (made here when missing, so a fresh CI machine gets them; reused
# after that). Needs ROOT (the checkout).
#
# core -> Python. The controller Pythons each core supports (its
# python_requires and ansible-test's controller list): 2.16 and 2.17:
# 3.10-3.12; 2.18 and 2.19: 3.11-3.13; 2.20 and 2.21: 3.12-3.14. The choice
# spreads the runs over 3.10 to 3.13. The newest core is the newest
# ansible-core on PyPI when this was written: add the next one here when it
# is released (and keep requires_ansible saying where the matrix starts, and
# execution-environment.yml's ansible_core range ending where this does).
declare -A PY=(
    [2.16]=3.10 [2.17]=3.12 [2.18]=3.11 [2.19]=3.13 [2.20]=3.12 [2.21]=3.13
)
ALL=(2.16 2.17 2.18 2.19 2.20 2.21)
# The venvs live outside the checkout, so a fresh clone on the same machine
# reuses them; on a fresh machine mkvenv makes them (pip, from PyPI).
VENVS=${VIRTNET_VENV_CACHE:-/var/cache/virtnet-sandbox/venvs}/matrix
PYENV_ROOT=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}

pybin() {
    # The newest installed patch release of Python X.Y under pyenv.
    local d
    d=$(ls -d "$PYENV_ROOT"/versions/"$1".* 2>/dev/null | sort -V | tail -1)
    [[ -n $d && -x $d/bin/python$1 ]] || { echo "no Python $1 under $PYENV_ROOT/versions (pyenv install $1)" >&2; return 1; }
    echo "$d/bin/python$1"
}

mkvenv() {
    # mkvenv X.Y: the venv of ansible-core X.Y (made or remade when its
    # core, Python or requirements.txt changed); prints nothing.
    local core=$1 venv=$VENVS/core-$1 py want stamp
    [[ -n ${PY[$core]:-} ]] || { echo "unknown ansible-core $core (known: ${ALL[*]})" >&2; return 1; }
    py=$(pybin "${PY[$core]}") || return 1
    want=$(printf '%s\n' "$core" "$py" | cat - "$ROOT/requirements.txt" | sha256sum | cut -c1-16)
    stamp=$venv/.virtnet-matrix
    [[ -x $venv/bin/python && $(cat "$stamp" 2>/dev/null) == "$want" ]] && return 0
    echo "==> $venv: ansible-core $core on $($py -V)" >&2
    rm -rf "$venv"
    mkdir -p "$VENVS"
    "$py" -m venv "$venv" &&
        "$venv/bin/pip" install -q --upgrade pip >&2 &&
        "$venv/bin/pip" install -q "ansible-core==$core.*" -r "$ROOT/requirements.txt" pytest >&2 &&
        echo "$want" >"$stamp"
}
