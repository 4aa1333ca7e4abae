// Signal a child by pid. A child that ended between the caller's check and
// the signal (reaped already: ESRCH) is not an error: it is what the caller
// wanted. Anything else is.
export function killQuiet(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch (e) {
    if (e.code !== 'ESRCH') throw e;
  }
}
