// The one place the UI talks to the backend: generated bindings, with results unwrapped into
// exceptions that keep the backend's error code.
import { commands, events } from "./bindings";
import type { ErrorCode, IpcError } from "./bindings";

export { commands, events };

export class IpcFailure extends Error {
  readonly code: ErrorCode;
  constructor(error: IpcError) {
    super(error.message);
    this.code = error.code;
  }
}

type Outcome<T> = { status: "ok"; data: T } | { status: "error"; error: IpcError };

/** Awaits a command and returns its data, or throws an {@link IpcFailure}. */
export async function call<T>(pending: Promise<Outcome<T>>): Promise<T> {
  const outcome = await pending;
  if (outcome.status === "ok") return outcome.data;
  throw new IpcFailure(outcome.error);
}

/** A message for the user from anything thrown. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  return String(error);
}
