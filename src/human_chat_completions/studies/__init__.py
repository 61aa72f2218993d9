"""Studies: a layer above the core. A study file defines conditions and participants; loading
it assigns conditions (Latin square, blocked random or fixed, from a seed) and gives each
participant a key. The API turns a participant's key into their condition for the switchboard."""

from human_chat_completions.studies.book import Participant, Study, StudyBook, study_owner
from human_chat_completions.studies.definition import StudyDefinition, StudyFileError, read_study_file

__all__ = ["Participant", "Study", "StudyBook", "StudyDefinition", "StudyFileError", "read_study_file",
           "study_owner"]
