/** An account's security state as settings.getAccount shows it. */

export interface AccountState {
  email: string | null;
  /** The email address is verified. */
  confirmed: boolean;
  hasPassword: boolean;
  totpEnabled: boolean;
  /** Deletion requested and not yet purged or cancelled. */
  pendingDelete: boolean;
}

/** settings.setupTotp's answer. */
export interface TotpState {
  enabled: boolean;
  /** otpauth:// URL of a new pending secret (shown while setting up). */
  url?: string;
  /** Plain codes right after enabling (shown once); masked afterwards. */
  backupCodes: Array<{ code: string; used: boolean }>;
}
