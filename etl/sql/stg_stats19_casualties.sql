-- Stage DfT STATS19 casualty rows: cast, decode and classify the road user; the collision keys, force and
-- collision_reject_reason come from stg_stats19_collision_members.sql (put before this text by the loader).

typed as (
    select
        row_ordinal,
        collision_index,
        collision_year,
        vehicle_reference,
        force_id,
        in_scope,
        collision_reject_reason,
        casualty_reference                                   as casualty_reference_text,
        try_cast(casualty_reference as integer)              as casualty_reference,
        try_cast(casualty_class as integer)                  as casualty_class_code,
        try_cast(sex_of_casualty as integer)                 as sex_code,
        case when try_cast(age_of_casualty as integer) >= 0 then try_cast(age_of_casualty as integer) end as age_of_casualty,
        try_cast(age_band_of_casualty as integer)            as age_band_code,
        casualty_severity                                    as severity_text,
        try_cast(casualty_severity as integer)               as severity_code,
        casualty_type                                        as casualty_type_text,
        try_cast(casualty_type as integer)                   as casualty_type_code
    from members
),

decoded as (
    select
        typed.*,
        (select label from codes where variable = 'casualty_severity' and code = typed.severity_code) as severity,
        (select label from codes where variable = 'casualty_type' and code = typed.casualty_type_code) as casualty_type,
        (select label from codes where variable = 'casualty_class' and code = typed.casualty_class_code) as casualty_class,
        (select label from codes where variable = 'sex_of_casualty' and code = typed.sex_code) as sex_of_casualty,
        (select label from codes where variable = 'age_band_of_casualty' and code = typed.age_band_code) as age_band_of_casualty,
        case
            when typed.casualty_type_code = 0 then 'Pedestrian'
            when typed.casualty_type_code = 1 then 'Pedal cyclist'
            when typed.casualty_type_code in (2, 3, 4, 5, 23, 97) then 'Motorcyclist'
            when typed.casualty_type_code = 9 then 'Car occupant'
            else 'Other'
        end as road_user_type
    from typed
),

checked as (
    select
        decoded.*,
        coalesce(collision_reject_reason, case
            when casualty_reference is null
                then 'casualty_reference ''' || coalesce(casualty_reference_text, '') || ''' is not a whole number'
            when severity is null
                then 'casualty_severity ''' || coalesce(severity_text, '') || ''' is not 1 (fatal), 2 (serious) or 3 (slight)'
            when casualty_type_code is null
                then 'casualty_type ''' || coalesce(casualty_type_text, '') || ''' is not a DfT casualty type code'
        end) as reject_reason
    from decoded
),

final as (
    select
        collision_index,
        collision_year,
        vehicle_reference,
        casualty_reference,
        casualty_class,
        sex_of_casualty,
        age_of_casualty,
        age_band_of_casualty,
        severity_code,
        severity,
        casualty_type_code,
        casualty_type,
        road_user_type,
        force_id,
        row_ordinal,
        reject_reason,
        in_scope
    from checked
)

select * from final
