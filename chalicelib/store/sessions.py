"""Reads and writes of console sessions and pending sign-ins (tokens table).

The authorizer imports this module for `find`, its one read of a console
request, and `touch`, a conditional write at most once a minute.
"""
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError

from chalicelib.models.sessions import PendingSignIn, Session, session_owner
from chalicelib.store import dependency_errors, is_condition_failure

TOUCH_INTERVAL = timedelta(seconds=60)


class SessionStore:
    def find(self, digest: str) -> Session | None:
        with dependency_errors():
            try:
                return Session.get(Session.key(digest), consistent_read=True)
            except Session.DoesNotExist:
                return None

    def touch(self, session: Session, now: datetime) -> None:
        """Move the idle limit on, at most once a minute; never raises."""
        try:
            # Like a token's "last used": no return values (the authorizer's
            # IAM policy allows this one attribute and ReturnValues NONE).
            Session._get_connection().update_item(
                session.pk,
                actions=[Session.last_seen_at.set(now)],
                condition=Session.pk.exists() & (Session.last_seen_at <= now - TOUCH_INTERVAL),
            )
        except Exception:  # noqa: BLE001 - a lost touch only shortens the idle limit
            return

    def create(self, session: Session) -> None:
        with dependency_errors():
            session.save(condition=Session.pk.does_not_exist())

    def delete(self, digest: str) -> None:
        with dependency_errors():
            Session(Session.key(digest)).delete()

    def delete_all_of(self, user_id: int) -> int:
        """End every session of a user (disabling them): one Query, then deletes."""
        with dependency_errors():
            sessions = list(Session.owner_index.query(session_owner(user_id)))
            for session in sessions:
                Session(session.pk).delete()
        return len(sessions)

    # -- sign-ins in progress --------------------------------------------------

    def put_sign_in(self, pending: PendingSignIn) -> None:
        with dependency_errors():
            pending.save(condition=PendingSignIn.pk.does_not_exist())

    def take_sign_in(self, digest: str) -> PendingSignIn | None:
        """The pending sign-in, deleted in the same breath: a second callback
        with the same cookie (a replay) finds nothing."""
        with dependency_errors():
            try:
                pending = PendingSignIn.get(PendingSignIn.key(digest), consistent_read=True)
            except PendingSignIn.DoesNotExist:
                return None
            try:
                pending.delete(condition=PendingSignIn.pk.exists())
            except DeleteError as error:
                if is_condition_failure(error):
                    return None
                raise
        return pending
