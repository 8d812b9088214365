/**
 * Logging: levels, the `Logger` interface, and the console logger used by default.
 *
 * @module
 */

/**
 * Severity of a log entry; the numbers match `@microsoft/signalr` so configuration carries over.
 *
 * @example
 * ```ts
 * import { HubConnectionBuilder, LogLevel } from "@signalrcore/client";
 * new HubConnectionBuilder().withUrl("http://localhost:5000/hub").configureLogging(LogLevel.Debug);
 * ```
 */
export const LogLevel = {
  /** Everything, including each message sent and received (content only when enabled). */
  Trace: 0,
  /** Diagnostics: negotiation steps, skipped messages. */
  Debug: 1,
  /** Lifecycle: connected, reconnecting, stopped. */
  Information: 2,
  /** Something odd that the client survived. */
  Warning: 3,
  /** A failure of a connection or a call. */
  Error: 4,
  /** A failure that leaves the client unusable. */
  Critical: 5,
  /** Nothing is logged. */
  None: 6,
} as const;

/**
 * A log level value.
 *
 * @example
 * ```ts
 * import { LogLevel } from "@signalrcore/client";
 * const level: LogLevel = LogLevel.Warning;
 * ```
 */
export type LogLevel = typeof LogLevel[keyof typeof LogLevel];

/**
 * A log level by name, as `@microsoft/signalr`'s `configureLogging` also takes it (any case).
 *
 * @example
 * ```ts
 * import { HubConnectionBuilder, type LogLevelName } from "@signalrcore/client";
 * const level: LogLevelName = "warn";
 * new HubConnectionBuilder().withUrl("http://localhost:5000/hub").configureLogging(level);
 * ```
 */
export type LogLevelName =
  | "trace"
  | "debug"
  | "info"
  | "information"
  | "warn"
  | "warning"
  | "error"
  | "critical"
  | "none";

// Typed by the names, so that the two lists cannot drift apart.
const LEVELS_BY_NAME: Readonly<Record<LogLevelName, LogLevel>> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Information,
  information: LogLevel.Information,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  critical: LogLevel.Critical,
  none: LogLevel.None,
};

/**
 * Receives the client's log entries. Access tokens are never part of a message; message
 * content is only included when `logMessageContent` is enabled.
 *
 * @example Collect warnings
 * ```ts
 * import { type Logger, LogLevel } from "@signalrcore/client";
 * const warnings: string[] = [];
 * const logger: Logger = {
 *   log(level, message) {
 *     if (level >= LogLevel.Warning) warnings.push(message);
 *   },
 * };
 * ```
 */
export interface Logger {
  /**
   * Records one entry.
   *
   * @param level The severity.
   * @param message The text.
   */
  log(level: LogLevel, message: string): void;
}

const LEVEL_NAMES = ["Trace", "Debug", "Information", "Warning", "Error", "Critical", "None"];

/** Writes entries at or above a minimum level to the console. */
export class ConsoleLogger implements Logger {
  readonly #minimum: LogLevel;

  /**
   * Creates a console logger.
   *
   * @param minimum The lowest level that is written.
   */
  constructor(minimum: LogLevel) {
    this.#minimum = minimum;
  }

  /**
   * Writes one entry if its level is at or above the minimum.
   *
   * @param level The severity.
   * @param message The text.
   */
  log(level: LogLevel, message: string): void {
    if (level < this.#minimum || level === LogLevel.None) return;
    const line = `[${new Date().toISOString()}] ${LEVEL_NAMES[level]}: ${message}`;
    if (level >= LogLevel.Error) console.error(line);
    else if (level === LogLevel.Warning) console.warn(line);
    else console.log(line);
  }
}

/**
 * A logger that drops everything; `NullLogger.instance` as in `@microsoft/signalr`.
 *
 * @example
 * ```ts
 * import { HubConnectionBuilder, NullLogger } from "@signalrcore/client";
 * new HubConnectionBuilder().withUrl("http://localhost:5000/hub").configureLogging(NullLogger.instance);
 * ```
 */
export class NullLogger implements Logger {
  /** The shared instance. */
  static readonly instance: NullLogger = new NullLogger();

  /** Drops the entry. */
  log(_level: LogLevel, _message: string): void {}
}

/**
 * Turns the builder's `configureLogging` argument into a logger.
 *
 * @throws {TypeError} For anything but a logger, a level or a level's name.
 */
export function toLogger(value: LogLevel | LogLevelName | Logger | string | undefined): Logger {
  if (typeof (value as Logger | null)?.log === "function") return guarded(value as Logger);
  const level: unknown = typeof value === "string"
    ? LEVELS_BY_NAME[value.toLowerCase() as LogLevelName]
    : value === undefined
    ? LogLevel.Warning
    : value;
  if (
    typeof level !== "number" || !Number.isInteger(level) || level < LogLevel.Trace ||
    level > LogLevel.None
  ) {
    throw new TypeError(
      `Logging takes a LogLevel (0 to 6), a level's name (${
        Object.keys(LEVELS_BY_NAME).join(", ")
      }) or a logger with a log() method; got ${
        typeof value === "string" ? `'${value}'` : String(value)
      }.`,
    );
  }
  // One console logger per level, shared: it has no state of its own.
  return consoleLoggers[level as LogLevel] ??= new ConsoleLogger(level as LogLevel);
}

const consoleLoggers: (ConsoleLogger | undefined)[] = [];

/**
 * A user's logger that cannot break the connection: an entry it fails to take is dropped. A
 * throw from it would otherwise fail `start()`, or escape from a timer as an uncaught error.
 */
function guarded(logger: Logger): Logger {
  return {
    log(level, message) {
      try {
        logger.log(level, message);
      } catch {
        // Nowhere left to report it.
      }
    },
  };
}
