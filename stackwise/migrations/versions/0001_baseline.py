"""Baseline: the schema of the release before issue 16 (commit 928ae85), exactly as ``create_all`` made it.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = {"grader_audit_log": "grader_audit", "issuance_audit_log": "issuance_audit"}


def _append_only_triggers() -> None:
    """The database refuses UPDATE and DELETE on the audit logs (what storage.audit.make_append_only creates)."""
    dialect = op.get_bind().dialect.name
    for table, prefix in APPEND_ONLY.items():
        if dialect == "sqlite":
            for what in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER IF NOT EXISTS {prefix}_no_{what.lower()} BEFORE {what} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")
        elif dialect == "postgresql":
            op.execute(f"CREATE OR REPLACE FUNCTION {prefix}_append_only() RETURNS trigger AS $fn$ "
                       f"BEGIN RAISE EXCEPTION '{table} is append-only'; END; $fn$ LANGUAGE plpgsql")
            op.execute(f"CREATE OR REPLACE TRIGGER {prefix}_no_change BEFORE UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {prefix}_append_only()")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())  # a pre-migration database may have some
    if 'assistant_subjects' not in existing:
        op.create_table('assistant_subjects',
        sa.Column('learner_id', sa.String(length=200), nullable=False),
        sa.Column('subject', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('learner_id')
        )
    if 'assistant_turns' not in existing:
        op.create_table('assistant_turns',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('learner_id', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('entities', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_assistant_turns_learner_id'), 'assistant_turns', ['learner_id'])
    if 'grader_audit_log' not in existing:
        op.create_table('grader_audit_log',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('event_type', sa.String(length=64), nullable=False),
        sa.Column('submission_id', sa.String(length=64), nullable=True),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_grader_audit_log_event_type'), 'grader_audit_log', ['event_type'])
        op.create_index(op.f('ix_grader_audit_log_submission_id'), 'grader_audit_log', ['submission_id'])
    if 'grader_submissions' not in existing:
        op.create_table('grader_submissions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=False),
        sa.Column('credential_id', sa.String(length=200), nullable=False),
        sa.Column('learner_id', sa.String(length=200), nullable=False),
        sa.Column('learner_name', sa.String(length=300), nullable=False),
        sa.Column('learner_email', sa.String(length=320), nullable=True),
        sa.Column('links', sa.JSON(), nullable=False),
        sa.Column('reflection', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ready_to_issue', sa.Boolean(), nullable=False),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('previous_submission_id', sa.String(length=64), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('review_reasons', sa.JSON(), nullable=False),
        sa.Column('claimed_by', sa.String(length=200), nullable=True),
        sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("NOT ready_to_issue OR status IN ('approved', 'passed')", name='ck_grader_issuable'),
        sa.CheckConstraint("status IN ('received', 'grading', 'passed', 'failed', 'review', 'approved', 'rejected', "
                           "'resubmission_requested', 'error')", name='ck_grader_submission_status'),
        sa.ForeignKeyConstraint(['previous_submission_id'], ['grader_submissions.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('learner_id', 'idempotency_key', name='uq_grader_submission_idempotency'),
        sa.UniqueConstraint('previous_submission_id')
        )
        op.create_index(op.f('ix_grader_submissions_credential_id'), 'grader_submissions', ['credential_id'])
        op.create_index(op.f('ix_grader_submissions_learner_id'), 'grader_submissions', ['learner_id'])
        op.create_index(op.f('ix_grader_submissions_ready_to_issue'), 'grader_submissions', ['ready_to_issue'])
        op.create_index(op.f('ix_grader_submissions_status'), 'grader_submissions', ['status'])
    if 'issuance_audit_log' not in existing:
        op.create_table('issuance_audit_log',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('event_type', sa.String(length=64), nullable=False),
        sa.Column('credential_id', sa.String(length=36), nullable=True),
        sa.Column('submission_id', sa.String(length=64), nullable=True),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_issuance_audit_log_credential_id'), 'issuance_audit_log', ['credential_id'])
        op.create_index(op.f('ix_issuance_audit_log_event_type'), 'issuance_audit_log', ['event_type'])
        op.create_index(op.f('ix_issuance_audit_log_submission_id'), 'issuance_audit_log', ['submission_id'])
    if 'issuance_credentials' not in existing:
        op.create_table('issuance_credentials',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('submission_id', sa.String(length=64), nullable=False),
        sa.Column('learner_id', sa.String(length=200), nullable=False),
        sa.Column('catalogue_id', sa.String(length=200), nullable=False),
        sa.Column('issuer', sa.String(length=100), nullable=True),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('status_list', sa.Integer(), nullable=False),
        sa.Column('status_index', sa.Integer(), nullable=False),
        sa.Column('reserved_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('document', sa.Text(), nullable=True),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('marked_issued', sa.Boolean(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by', sa.String(length=200), nullable=True),
        sa.Column('revocation_reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('status_list', 'status_index', name='uq_issuance_status_slot'),
        sa.UniqueConstraint('submission_id', name='uq_issuance_submission')
        )
        op.create_index(op.f('ix_issuance_credentials_catalogue_id'), 'issuance_credentials', ['catalogue_id'])
        op.create_index(op.f('ix_issuance_credentials_learner_id'), 'issuance_credentials', ['learner_id'])
    if 'learner_profiles' not in existing:
        op.create_table('learner_profiles',
        sa.Column('learner_id', sa.String(length=200), nullable=False),
        sa.Column('holding', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('learner_id')
        )
    if 'grader_files' not in existing:
        op.create_table('grader_files',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('submission_id', sa.String(length=64), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('media_type', sa.String(length=200), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('extracted_text', sa.Text(), nullable=True),
        sa.Column('extraction_error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['submission_id'], ['grader_submissions.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('submission_id', 'position', name='uq_grader_file_position')
        )
        op.create_index(op.f('ix_grader_files_submission_id'), 'grader_files', ['submission_id'])
    if 'grader_grades' not in existing:
        op.create_table('grader_grades',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('submission_id', sa.String(length=64), nullable=False),
        sa.Column('credential_id', sa.String(length=200), nullable=False),
        sa.Column('model', sa.String(length=200), nullable=False),
        sa.Column('prompt_version', sa.String(length=100), nullable=False),
        sa.Column('total_points', sa.Float(), nullable=False),
        sa.Column('max_points', sa.Float(), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('reasons', sa.JSON(), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=False),
        sa.Column('model_input', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['submission_id'], ['grader_submissions.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_grader_grades_submission_id'), 'grader_grades', ['submission_id'])
    if 'grader_criterion_grades' not in existing:
        op.create_table('grader_criterion_grades',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('grade_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('criterion_id', sa.String(length=200), nullable=False),
        sa.Column('level_id', sa.String(length=200), nullable=False),
        sa.Column('distribution', sa.JSON(), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('rationale', sa.Text(), nullable=False),
        sa.Column('quotes', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['grade_id'], ['grader_grades.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('grade_id', 'criterion_id', name='uq_grader_grade_criterion')
        )
        op.create_index(op.f('ix_grader_criterion_grades_grade_id'), 'grader_criterion_grades', ['grade_id'])
    if 'grader_decisions' not in existing:
        op.create_table('grader_decisions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('submission_id', sa.String(length=64), nullable=False),
        sa.Column('grade_id', sa.Integer(), nullable=True),
        sa.Column('assessor', sa.String(length=200), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('total_points', sa.Float(), nullable=True),
        sa.Column('max_points', sa.Float(), nullable=True),
        sa.Column('rubric_passed', sa.Boolean(), nullable=True),
        sa.Column('status', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['grade_id'], ['grader_grades.id'], ),
        sa.ForeignKeyConstraint(['submission_id'], ['grader_submissions.id'], ),
        sa.PrimaryKeyConstraint('id')
        )
        op.create_index(op.f('ix_grader_decisions_assessor'), 'grader_decisions', ['assessor'])
        op.create_index(op.f('ix_grader_decisions_submission_id'), 'grader_decisions', ['submission_id'])
    if 'grader_engine_records' not in existing:
        op.create_table('grader_engine_records',
        sa.Column('grade_id', sa.Integer(), nullable=False),
        sa.Column('engine_version', sa.String(length=100), nullable=False),
        sa.Column('p_pass', sa.Float(), nullable=True),
        sa.Column('decision_threshold', sa.Float(), nullable=True),
        sa.Column('readings', sa.JSON(), nullable=False),
        sa.Column('feedback', sa.JSON(), nullable=False),
        sa.Column('feedback_seconds', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['grade_id'], ['grader_grades.id'], ),
        sa.PrimaryKeyConstraint('grade_id')
        )
    if 'grader_reviews' not in existing:
        op.create_table('grader_reviews',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('decision_id', sa.Integer(), nullable=False),
        sa.Column('submission_id', sa.String(length=64), nullable=False),
        sa.Column('credential_id', sa.String(length=200), nullable=False),
        sa.Column('criterion_id', sa.String(length=200), nullable=False),
        sa.Column('ai_level_id', sa.String(length=200), nullable=True),
        sa.Column('final_level_id', sa.String(length=200), nullable=False),
        sa.Column('kept', sa.Boolean(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['decision_id'], ['grader_decisions.id'], ),
        sa.ForeignKeyConstraint(['submission_id'], ['grader_submissions.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('decision_id', 'criterion_id', name='uq_grader_review_criterion')
        )
        op.create_index(op.f('ix_grader_reviews_criterion_id'), 'grader_reviews', ['criterion_id'])
        op.create_index(op.f('ix_grader_reviews_decision_id'), 'grader_reviews', ['decision_id'])
        op.create_index(op.f('ix_grader_reviews_submission_id'), 'grader_reviews', ['submission_id'])
    _append_only_triggers()


def downgrade() -> None:

    op.drop_index(op.f('ix_grader_reviews_submission_id'), table_name='grader_reviews')
    op.drop_index(op.f('ix_grader_reviews_decision_id'), table_name='grader_reviews')
    op.drop_index(op.f('ix_grader_reviews_criterion_id'), table_name='grader_reviews')
    op.drop_table('grader_reviews')
    op.drop_table('grader_engine_records')
    op.drop_index(op.f('ix_grader_decisions_submission_id'), table_name='grader_decisions')
    op.drop_index(op.f('ix_grader_decisions_assessor'), table_name='grader_decisions')
    op.drop_table('grader_decisions')
    op.drop_index(op.f('ix_grader_criterion_grades_grade_id'), table_name='grader_criterion_grades')
    op.drop_table('grader_criterion_grades')
    op.drop_index(op.f('ix_grader_grades_submission_id'), table_name='grader_grades')
    op.drop_table('grader_grades')
    op.drop_index(op.f('ix_grader_files_submission_id'), table_name='grader_files')
    op.drop_table('grader_files')
    op.drop_table('learner_profiles')
    op.drop_index(op.f('ix_issuance_credentials_learner_id'), table_name='issuance_credentials')
    op.drop_index(op.f('ix_issuance_credentials_catalogue_id'), table_name='issuance_credentials')
    op.drop_table('issuance_credentials')
    op.drop_index(op.f('ix_issuance_audit_log_submission_id'), table_name='issuance_audit_log')
    op.drop_index(op.f('ix_issuance_audit_log_event_type'), table_name='issuance_audit_log')
    op.drop_index(op.f('ix_issuance_audit_log_credential_id'), table_name='issuance_audit_log')
    op.drop_table('issuance_audit_log')
    op.drop_index(op.f('ix_grader_submissions_status'), table_name='grader_submissions')
    op.drop_index(op.f('ix_grader_submissions_ready_to_issue'), table_name='grader_submissions')
    op.drop_index(op.f('ix_grader_submissions_learner_id'), table_name='grader_submissions')
    op.drop_index(op.f('ix_grader_submissions_credential_id'), table_name='grader_submissions')
    op.drop_table('grader_submissions')
    op.drop_index(op.f('ix_grader_audit_log_submission_id'), table_name='grader_audit_log')
    op.drop_index(op.f('ix_grader_audit_log_event_type'), table_name='grader_audit_log')
    op.drop_table('grader_audit_log')
    op.drop_index(op.f('ix_assistant_turns_learner_id'), table_name='assistant_turns')
    op.drop_table('assistant_turns')
    op.drop_table('assistant_subjects')
