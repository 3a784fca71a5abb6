"""The store's edit helper keeps PidTagSubject and its parts in agreement (MS-OXCMSG 2.2.1.46)."""
from gateway.store.adapters import edited
from gateway.store.model import MessageContent
from protocols.mapi.props import core as P


def _content() -> MessageContent:
    return MessageContent({P.PidTagSubject: "RE: old", P.PidTagSubjectPrefix: "RE: ",
                           P.PidTagNormalizedSubject: "old", P.PidTagImportance: 1})


def test_subject_set_alone_drops_the_stale_parts():
    c = edited(_content(), {P.PidTagSubject: "new words"}, [])
    assert c.props[P.PidTagSubject] == "new words"
    assert P.PidTagNormalizedSubject not in c.props and P.PidTagSubjectPrefix not in c.props


def test_parts_set_alone_rebuild_the_subject():
    c = edited(_content(), {P.PidTagNormalizedSubject: "fresh"}, [])
    assert c.props[P.PidTagSubject] == "RE: fresh"


def test_all_three_set_are_taken_as_given_and_other_props_alone():
    c = edited(_content(), {P.PidTagSubject: "FW: x", P.PidTagSubjectPrefix: "FW: ", P.PidTagNormalizedSubject: "x"},
               [P.PidTagImportance])
    assert (c.props[P.PidTagSubject], c.props[P.PidTagSubjectPrefix], c.props[P.PidTagNormalizedSubject]) == \
        ("FW: x", "FW: ", "x")
    assert P.PidTagImportance not in c.props
    c = edited(_content(), {}, [P.PidTagSubject])
    assert not {P.PidTagSubject, P.PidTagSubjectPrefix, P.PidTagNormalizedSubject} & set(c.props)
