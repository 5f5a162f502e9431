// Types of the `tokenwell` Node binding. Structurally compatible with
// node-redis v5's StreamingCredentialsProvider (@redis/client, lib/authx), so
// no dependency on @redis/client is needed.

export type ErrorCode =
  | 'EINVAL' | 'ENOTFOUND' | 'ENOVALUE' | 'EUNAVAILABLE'
  | 'EFORMAT' | 'EVERSION' | 'EBUSY' | 'ETIMEOUT';

export declare const CODES: Readonly<Record<ErrorCode, ErrorCode>>;

export declare class TokenwellError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string);
}

export interface Credential {
  /** Redis username (for Entra: the principal's object id). */
  username: string;
  /** The secret: an access token or a password. Never log it. */
  token: string;
  /** Unix seconds; 0 means it does not expire. */
  expiresAt: number;
  /** Increases with every publication by the agent. */
  generation: number;
}

export interface Options {
  /** Runtime directory; default $TOKENWELL_DIR, else /run/tokenwell. */
  dir?: string;
}

export interface ProviderOptions extends Options {
  /** Called when a re-AUTH fails or the token expired with no newer one. Default: process.emitWarning. */
  onReAuthenticationError?: (error: Error) => void;
  /** Seconds each long-poll on the agent socket waits (1-300, default 30). */
  waitSeconds?: number;
  /** Seconds subscribe() waits for a first valid credential (1-300, default 30). */
  timeoutSeconds?: number;
}

export interface BasicAuth {
  username?: string;
  password?: string;
}

export interface StreamingCredentialsListener<T> {
  onNext: (credentials: T) => void;
  onError: (e: Error) => void;
}

export interface Disposable {
  dispose(): void;
}

export declare class TokenwellCredentialsProvider {
  readonly type: 'streaming-credentials-provider';
  readonly name: string;
  readonly dir: string;
  constructor(name: string, opts?: ProviderOptions);
  subscribe(listener: StreamingCredentialsListener<BasicAuth>): Promise<[BasicAuth, Disposable]>;
  onReAuthenticationError: (error: Error) => void;
  /** The current credential, waiting up to timeoutSeconds for a first valid one. */
  current(): Promise<Credential>;
}

/** Reads credential `name` from the segment; throws TokenwellError. */
export declare function getCredential(name: string, opts?: Options): Credential;

/** A node-redis v5 StreamingCredentialsProvider for credential `name`. */
export declare function credentialsProvider(name: string, opts?: ProviderOptions): TokenwellCredentialsProvider;
