# greeting library: sourced by shell programs
greet() { echo "$(cat /usr/share/greeting/default), $1!"; }
