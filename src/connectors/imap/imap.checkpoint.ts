import { Type, type Static } from 'typebox';
import { checker } from '../rest-poller/poller-support.js';

const Digits = Type.String({ pattern: '^[0-9]{1,20}$' });

/**
 * The position in one mailbox. UIDs mean something only under the UIDVALIDITY they were read with
 * (RFC 3501 §2.3.1.1), so both are kept; HIGHESTMODSEQ too where the server has CONDSTORE (RFC 7162),
 * for the record of how far the mailbox had changed. Big integers are kept as decimal strings (JSON).
 */
export const MailboxCursorSchema = Type.Object(
  {
    uidValidity: Digits,
    lastUid: Type.Integer({ minimum: 0 }),
    highestModseq: Type.Optional(Digits),
  },
  { additionalProperties: false },
);
export type MailboxCursor = Static<typeof MailboxCursorSchema>;

/** Positions per mailbox path (the resolved path: "\Sent" is stored as the folder it named). */
export const ImapCheckpointSchema = Type.Object(
  { v: Type.Literal(1), mailboxes: Type.Record(Type.String({ minLength: 1 }), MailboxCursorSchema) },
  { additionalProperties: false },
);
export type ImapCheckpoint = Static<typeof ImapCheckpointSchema>;

const isCheckpoint = checker(ImapCheckpointSchema);

/** Validates a checkpoint read back from the store; null when it is not one this connector wrote. */
export function readImapCheckpoint(value: unknown): ImapCheckpoint | null {
  return isCheckpoint(value) ? value : null;
}

/** What STATUS or SELECT said about a mailbox. */
export type MailboxState = { uidValidity: bigint; uidNext: number; highestModseq?: bigint | undefined; messages?: number | undefined };

/** Where reading a mailbox starts, from its cursor and what the server says now. */
export type MailboxPlan = {
  /** Read the UIDs above this one. */
  after: number;
  /** The UIDVALIDITY changed (or the mailbox is new to us): every UID is read again; records are keyed by Message-ID, so none is doubled. */
  rescan: boolean;
  /** Nothing above `after` can exist: UIDs are given out in ascending order below UIDNEXT. */
  upToDate: boolean;
};

export function planMailbox(cursor: MailboxCursor | undefined, state: MailboxState): MailboxPlan {
  const same = cursor !== undefined && cursor.uidValidity === state.uidValidity.toString();
  const after = same ? cursor.lastUid : 0;
  return { after, rescan: !same && cursor !== undefined, upToDate: state.uidNext <= after + 1 };
}

/** The cursor after reading up to `lastUid` (never backwards) under the server's current UIDVALIDITY. */
export function advanceCursor(plan: MailboxPlan, state: MailboxState, lastUid: number): MailboxCursor {
  return {
    uidValidity: state.uidValidity.toString(),
    lastUid: Math.max(plan.after, lastUid),
    ...(state.highestModseq !== undefined ? { highestModseq: state.highestModseq.toString() } : {}),
  };
}
